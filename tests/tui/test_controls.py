"""Every key of the panel changes what it should in a running engine.

The app runs under Textual's pilot; the engine is real (its own thread, internal clock at
400 BPM) on fake ports with tiny models. Each control is checked on ``engine.snapshot()``
after the next ticks, since controls act at the start of a tick.
"""

from __future__ import annotations

import io

import mido
import pytest
from rich.console import Console

from livegen.tui.keys import CONTROLS, HelpScreen, help_table
from livegen.tui.widgets import ModelTable
from tests.fakes import sounding
from tests.tui.helpers import run, ticks, until

SIZE = (120, 40)


def test_temperature_keys_and_typed_value(panel):
    app = panel(temperature=0.9)

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            engine = app.engine
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
            await type_in(pilot, app, "0.2", "escape")  # escape leaves without applying
            await ticks(pilot, engine)
            assert engine.snapshot().temperature == pytest.approx(1.3)
            assert isinstance(app.focused, ModelTable)

    run(scenario())


def test_mode_tempo_answer_channel_passthrough_and_key_keys(panel):
    app = panel(bpm=300)

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            engine = app.engine
            await ticks(pilot, engine, 1)
            modes = []
            for _ in range(3):
                await pilot.press("m")
                await ticks(pilot, engine)
                modes.append(engine.snapshot().mode)
            assert modes == ["accompany", "free", "continue"]

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
            await ticks(pilot, engine, 3)  # a channel change lands a tick later
            assert engine.snapshot().channel == 1
            await pilot.press("c", "c")  # wraps from channel 1 to 16
            await ticks(pilot, engine, 3)
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

    run(scenario())


async def type_in(pilot, app, text: str, *then: str) -> None:
    """Type ``text`` into the focused field, then press ``then``.

    The value is set whole: pilot presses wait for the process to go idle, which a running
    engine (it polls its input every millisecond) delays by up to a second per key.
    """
    app.focused.value = text
    await pilot.pause(0.05)
    if then:
        await pilot.press(*then)


def play(ports, *messages) -> None:
    for msg in messages:
        ports.feed(msg)


def test_stop_start_end_call_panic_reset_regenerate(panel):
    app = panel(response_bars=4, silence_ticks=64)

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            engine, ports = app.engine, app.session.ports
            await ticks(pilot, engine, 1)
            play(ports, mido.Message("note_on", note=60, velocity=90))
            await ticks(pilot, engine, 3)
            play(ports, mido.Message("note_off", note=60))
            await ticks(pilot, engine, 2)
            assert engine.snapshot().phase == "listening"  # 64 silent ticks before it answers

            await pilot.press("e")  # end of call: answer now
            await until(pilot, lambda: engine.snapshot().phase == "answering", "an answer")
            await until(pilot, lambda: engine.snapshot().open_notes, "an answer's note")

            await pilot.press("g")  # regenerate: the answer starts again, still answering
            await until(pilot, lambda: engine.snapshot().phase == "answering", "the new answer")

            await pilot.press("space")  # stop: livegen's notes end
            await until(pilot, lambda: not engine.snapshot().playing, "stop")
            await ticks(pilot, engine, 2)
            snap = engine.snapshot()
            assert snap.phase == "stopped" and snap.open_notes == ()
            assert sounding(ports.sent) == set()
            await pilot.press("space")
            await until(pilot, lambda: engine.snapshot().playing, "start")
            assert engine.snapshot().phase == "listening"

            await pilot.press("p")
            await until(pilot, lambda: ports.panics == 1, "the panic")
            await pilot.press("r")
            await until(pilot, lambda: "state reset" in engine.snapshot().notices, "the reset")
            await until(pilot, lambda: "state reset" in app.notices, "the reset on the panel")
            assert "panic: all notes off" in app.notices

    run(scenario())
    # Quitting closed the session: the engine is down and nothing is left sounding.
    assert not app.engine.running and app.session.ports.closed
    assert sounding(app.session.ports.sent) == set()


def test_switch_models_from_the_list(panel):
    app = panel()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            engine = app.engine
            table = app.query_one(ModelTable)
            await ticks(pilot, engine, 1)
            assert engine.snapshot().model == "tiny_a_melody"
            assert table.get_cell("tiny_a", "model").startswith("▶")

            await pilot.press("down", "enter")  # tiny_b
            await until(pilot, lambda: engine.snapshot().model == "tiny_b_melody", "the switch")
            await until(pilot, lambda: table.get_cell("tiny_b", "model").startswith("▶"), "▶")
            assert any(n == "switched to tiny_b_melody" for n in app.notices)

            await pilot.press("down", "enter")  # another tick rate: refused, session goes on
            await until(pilot, lambda: app.notices[-1].startswith("cannot switch"), "refusal")
            assert "restart livegen with it" in app.notices[-1]
            await pilot.press("down", "enter")  # unreadable: refused by the panel itself
            assert app.notices[-1].startswith("cannot switch model: broken.pt")
            await ticks(pilot, engine, 3)
            snap = engine.snapshot()
            assert snap.model == "tiny_b_melody" and snap.running and snap.error is None
            assert table.get_cell("tiny_b", "model").startswith("▶")
            assert not table.get_cell("tiny_perf", "model").startswith("…")

    run(scenario())


def test_help_screen_lists_every_key_and_closes(panel):
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(help_table())
    text = console.export_text()
    for control in CONTROLS:
        assert control.help in text and control.shown in text, control
    app = panel()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            for key in ("question_mark", "f1"):
                await pilot.press(key)
                assert isinstance(app.screen, HelpScreen)
                await pilot.press("escape")
                assert not isinstance(app.screen, HelpScreen)

    run(scenario())


def test_command_palette_runs_a_control(panel):
    app = panel()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            engine = app.engine
            await ticks(pilot, engine, 1)
            await pilot.press("ctrl+p")
            await type_in(pilot, app, "Panic")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await until(pilot, lambda: app.session.ports.panics == 1, "the palette's panic")
            await pilot.press("ctrl+p")
            await type_in(pilot, app, "switch model tiny_b")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await until(pilot, lambda: engine.snapshot().model == "tiny_b_melody", "the switch")

    run(scenario())
