"""Every key of the panel sends the command it should, and the panel shows its effect.

The app runs under Textual's pilot on a fake engine client (tests/tui/helpers.py), which
applies the commands the panel submits when the test makes it tick, as the engine does at
the start of its next tick. Each control is checked on ``engine.snapshot()`` after that.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from livegen.controls import LIMITS, Action, Control, Do, Set, SwitchModel
from livegen.tui.keys import CONTROLS, HelpScreen, help_table
from livegen.tui.widgets import ModelTable
from tests.tui.helpers import ticks, until


def test_temperature_keys_and_typed_value(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine, 1)
        await pilot.press("right_square_bracket")
        await ticks(pilot, engine)
        assert engine.snapshot().temperature == pytest.approx(0.95)
        # Two presses within one tick both count (the panel remembers what it asked).
        await pilot.press("left_square_bracket", "left_square_bracket")
        await ticks(pilot, engine)
        assert engine.snapshot().temperature == pytest.approx(0.85)

        await pilot.press("t")
        assert app.focused.id == "temperature"
        await type_in(pilot, app, "1.3", "enter")
        await ticks(pilot, engine)
        assert engine.snapshot().temperature == pytest.approx(1.3)
        assert isinstance(app.focused, ModelTable)  # back to the list after enter

        await pilot.press("t")
        await type_in(pilot, app, "warm", "enter")
        await ticks(pilot, engine)
        assert engine.snapshot().temperature == pytest.approx(1.3)
        assert "temperature must be a number" in app.notices[-1]
        await pilot.press("t")
        await type_in(pilot, app, "3", "enter")  # beyond LIMITS: refused, never sent
        assert "temperature must be in 0..2.5" in app.notices[-1]

        await pilot.press("t")
        await type_in(pilot, app, "0.2", "escape")  # escape leaves without applying
        await ticks(pilot, engine)
        assert engine.snapshot().temperature == pytest.approx(1.3)
        assert isinstance(app.focused, ModelTable)
        temperatures = [c.value for c in engine.commands]
        assert temperatures == pytest.approx([0.95, 0.9, 0.85, 1.3])
        assert all(c.control is Control.TEMPERATURE for c in engine.commands)

    drive(scenario, temperature=0.9)


def test_plus_minus_stop_at_the_limits(drive):
    top, bottom = LIMITS[Control.TEMPERATURE].high, LIMITS[Control.BPM].low

    async def scenario(pilot, app, engine):
        await pilot.press("right_square_bracket", "right_square_bracket", "minus", "minus")
        await ticks(pilot, engine)
        snap = engine.snapshot()
        assert (snap.temperature, snap.bpm) == (top, bottom)

    drive(scenario, temperature=top - 0.02, bpm=bottom + 0.5)


def test_mode_tempo_answer_channel_passthrough_and_key_keys(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine, 1)
        modes = []
        for _ in range(4):
            await pilot.press("m")
            await ticks(pilot, engine)
            modes.append(engine.snapshot().mode)
        assert modes == ["accompany", "harmonize", "free", "continue"]
        assert engine.commands[0] == Set(Control.MODE, "accompany")

        await pilot.press("plus")
        await ticks(pilot, engine)
        assert engine.snapshot().bpm == pytest.approx(301)
        await pilot.press("minus", "minus", "minus")
        await ticks(pilot, engine)
        assert engine.snapshot().bpm == pytest.approx(298)

        await pilot.press("B")
        await ticks(pilot, engine)
        assert engine.snapshot().response_bars == 2
        await pilot.press("b", "b", "b")  # stops at 0: as long as the call
        await ticks(pilot, engine)
        assert engine.snapshot().response_bars == 0

        await pilot.press("C")
        await ticks(pilot, engine)
        assert engine.snapshot().channel == 1
        await pilot.press("c", "c")  # wraps from channel 1 to 16
        await ticks(pilot, engine)
        assert engine.snapshot().channel == 15

        await pilot.press("x")
        await ticks(pilot, engine)
        assert engine.snapshot().passthrough is True

        await pilot.press("k")
        await type_in(pilot, app, "D dorian", "enter")
        await ticks(pilot, engine)
        assert engine.snapshot().key == "D dorian"
        await pilot.press("k")
        await type_in(pilot, app, "H lydian", "enter")  # refused in the panel, not a crash
        await ticks(pilot, engine)
        assert engine.snapshot().key == "D dorian"
        assert "tonic" in app.notices[-1]
        await pilot.press("k", "backspace", "enter")  # empty (all selected on focus): off
        await ticks(pilot, engine)
        assert engine.snapshot().key is None

    drive(scenario, bpm=300)


async def type_in(pilot, app, text: str, *then: str) -> None:
    """Type ``text`` into the focused field, then press ``then``.

    The value is set whole: a key press per character is slow under the pilot.
    """
    app.focused.value = text
    await pilot.pause(0.05)
    if then:
        await pilot.press(*then)


def test_stop_start_end_call_panic_reset_regenerate(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        assert engine.snapshot().phase == "listening"

        await pilot.press("e")  # end of call: answer now
        await ticks(pilot, engine)
        assert engine.snapshot().phase == "answering"
        engine.play_note()

        await pilot.press("g")  # regenerate: the answer starts again
        await pilot.press("space")  # stop: livegen's notes end
        await ticks(pilot, engine)
        snap = engine.snapshot()
        assert not snap.playing and snap.phase == "stopped" and snap.open_notes == ()
        await pilot.press("space")
        await ticks(pilot, engine)
        assert engine.snapshot().playing and engine.snapshot().phase == "listening"

        await pilot.press("p")
        await ticks(pilot, engine)
        assert engine.panics == 1
        await pilot.press("r")
        await ticks(pilot, engine)
        await until(pilot, lambda: "state reset" in app.notices, "the reset on the panel")
        assert "panic: all notes off" in app.notices
        assert engine.commands == [
            Do(Action.END_CALL),
            Do(Action.REGENERATE),
            Do(Action.STOP),
            Do(Action.PLAY),
            Do(Action.PANIC),
            Do(Action.RESET),
        ]

    app = drive(scenario, response_bars=4, silence_ticks=64)
    # Quitting closed the engine client: the engine ends every note.
    assert app.engine.closed and not app.engine.running


def test_end_call_outside_continue_mode_is_a_notice(drive):
    async def scenario(pilot, app, engine):
        await pilot.press("e")
        assert "end of call is for continue mode" in app.notices[-1]
        assert app.engine.commands == []

    drive(scenario, mode="free")


def test_switch_models_from_the_list(drive):
    async def scenario(pilot, app, engine):
        table = app.query_one(ModelTable)
        await ticks(pilot, engine)
        assert engine.snapshot().model == "tiny_a_melody"
        assert table.get_cell("tiny_a", "model").startswith("▶")

        await pilot.press("down", "enter")  # tiny_b
        assert engine.commands == [SwitchModel("tiny_b")]
        await ticks(pilot, engine)
        assert engine.snapshot().model == "tiny_b_melody"
        await until(pilot, lambda: table.get_cell("tiny_b", "model").startswith("▶"), "▶")
        assert any(n == "switched to tiny_b_melody" for n in app.notices)

        await pilot.press("down", "enter")  # another tick rate: switched as any other
        await ticks(pilot, engine)
        await until(pilot, lambda: table.get_cell("tiny_perf", "model").startswith("▶"), "▶")
        assert engine.snapshot().ticks_per_quarter == 12
        assert app.notices[-1] == "switched to tiny_performance"
        engine.vanished.add("tiny_b")
        await pilot.press("up", "enter")  # its file is gone: the engine says so, goes on
        await ticks(pilot, engine)
        await until(pilot, lambda: app.notices[-1].startswith("cannot switch"), "refusal")
        assert "tiny_b.pt: no such file" in app.notices[-1]
        await pilot.press("down", "down", "enter")  # unreadable: refused by the panel itself
        assert app.notices[-1].startswith("cannot switch model: broken.pt")
        assert engine.commands == [
            SwitchModel("tiny_b"),
            SwitchModel("tiny_perf"),
            SwitchModel("tiny_b"),
        ]
        await ticks(pilot, engine)
        snap = engine.snapshot()
        assert snap.model == "tiny_performance" and snap.running and snap.error is None
        assert table.get_cell("tiny_perf", "model").startswith("▶")
        assert not table.get_cell("tiny_b", "model").startswith("…")

    drive(scenario)


def test_help_screen_lists_every_key_and_closes(drive):
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(help_table())
    text = console.export_text()
    for control in CONTROLS:
        assert control.help in text and control.shown in text, control

    async def scenario(pilot, app, engine):
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    drive(scenario)


def test_command_palette_runs_a_control(drive):
    async def scenario(pilot, app, engine):
        await pilot.press("ctrl+p")
        await type_in(pilot, app, "Panic")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: Do(Action.PANIC) in engine.commands, "the palette's panic")
        await pilot.press("ctrl+p")
        await type_in(pilot, app, "switch model tiny_b")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: SwitchModel("tiny_b") in engine.commands, "the switch")

    drive(scenario)


def test_shift_r_starts_and_stops_recording(drive):
    async def scenario(pilot, app, engine):
        await pilot.press("R")
        await ticks(pilot, app.engine)
        await pilot.press("R")
        await ticks(pilot, app.engine)
        assert app.engine.commands == [Do(Action.RECORD), Do(Action.RECORD)]

    drive(scenario)


STYLES = ("folk", "chorales", "fiddle")


def test_style_keys_step_the_style_and_mix_with_a_style_model(drive):
    async def scenario(pilot, app, engine):
        engine._publish(styles=STYLES)  # the engine plays a style model
        await ticks(pilot, engine, 1)
        assert "style  folk" in str(app.session_info.content)
        await pilot.press("s")
        await ticks(pilot, engine)
        assert engine.snapshot().style == 1
        assert "style  chorales" in str(app.session_info.content)
        await pilot.press("S", "S")  # two presses within a tick both count
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
        await ticks(pilot, engine)
        snap = engine.snapshot()
        assert (snap.style_b, snap.style_mix) == (2, pytest.approx(0.3))
        assert "70% chorales + 30% fiddle" in str(app.session_info.content)
        await pilot.press("less_than_sign")
        await ticks(pilot, engine)
        assert engine.snapshot().style_mix == pytest.approx(0.2)
        await pilot.press("s", "s")  # round the three styles: back to folk
        await ticks(pilot, engine)
        assert engine.snapshot().style == 0
        sent = [c for c in engine.commands if isinstance(c, Set)]
        assert [c.control for c in sent[:3]] == [
            Control.STYLE,
            Control.STYLE_B,
            Control.STYLE_B,
        ]

    drive(scenario)


def test_a_style_key_acts_on_the_latest_snapshot_not_the_one_last_drawn(drive):
    async def scenario(pilot, app, engine):
        drawn = app.snap  # before the style model: no styles
        app.refresh_panel = lambda force=False: None  # the panel has not drawn since
        engine._publish(styles=STYLES)
        app.snap = drawn
        await pilot.press("s")
        await ticks(pilot, engine)
        assert engine.snapshot().style == 1, app.notices

    drive(scenario)


def test_style_keys_are_unavailable_with_a_model_without_styles(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine, 1)
        await pilot.press("s", "S", "greater_than_sign")
        await ticks(pilot, engine)
        assert engine.commands == []  # nothing sent: the engine would refuse it too
        assert "has no style input" in app.notices[-1]
        assert "style  " not in str(app.session_info.content)

    drive(scenario)
