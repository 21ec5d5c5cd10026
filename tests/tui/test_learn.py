"""MIDI learn from the panel (``L``): choose a control, enter, move a knob; it acts at once, is
remembered, is listed in the help screen and can be forgotten.

The app runs under Textual's pilot on the fake engine client (tests/tui/helpers.py), whose
CC map is the real :class:`livegen.controls.CcMap`; the real engine behind real JACK ports:
tests/integration/test_learn.py.
"""

from __future__ import annotations

import io

import pytest
import yaml
from rich.console import Console

from livegen.controls import CC_CONTROLS, Forget, Learn
from livegen.tui.keys import HelpScreen, cc_table
from livegen.tui.launch import make_app
from livegen.tui.learn import LearnScreen
from tests.tui.helpers import FakeEngineClient, ticks, tiny_catalog, until


async def pick(pilot, control: str) -> None:
    """Move the learn list's cursor to ``control``."""
    for _ in range(CC_CONTROLS.index(control)):
        await pilot.press("down")


def cell(app, control: str) -> str:
    return str(app.screen.table.get_cell(control, "CC"))


def test_learn_a_knob_it_acts_at_once_and_is_remembered_and_listed(drive, config_dir):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        await pilot.press("L")
        assert isinstance(app.screen, LearnScreen)
        assert cell(app, "panic") == "22" and cell(app, "temperature") == ""
        await pick(pilot, "temperature")
        await pilot.press("enter")
        assert engine.commands[-1] == Learn("temperature")
        await ticks(pilot, engine)
        assert engine.snapshot().learning == "temperature"
        assert cell(app, "temperature") == "…move one"
        assert "move a knob" in str(app.screen.status.render())

        engine.move_cc(30, 5)  # the musician turns a knob: CC 30 is learnt
        await ticks(pilot, engine)
        assert cell(app, "temperature") == "30"
        assert "CC 30 now controls temperature" in app.notices
        assert str(app.screen.status.render()) == "CC 30 now controls temperature"
        engine.move_cc(30, 127)  # and it drives the temperature from now on
        assert engine.snapshot().temperature == pytest.approx(2.0)
        # Remembered at once, not only at the exit (a crash keeps it).
        saved = yaml.safe_load((config_dir / "state.yaml").read_text())
        assert saved["cc"] == {"panic": 22, "temperature": 30}

        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=80, file=io.StringIO(), record=True)
        console.print(cc_table(app.screen.cc_map))
        lines = console.export_text().split("\n")
        assert [line.split() for line in lines[:2]] == [
            ["CC", "22", "panic"],
            ["CC", "30", "temperature"],
        ]

    drive(scenario, cc={"panic": 22})
    # The next start gets the map back, above configs/live.yaml's.
    again = make_app(lambda r: FakeEngineClient(**r), catalog=tiny_catalog())
    try:
        assert dict(again.engine.snapshot().cc_map) == {"panic": 22, "temperature": 30}
    finally:
        again.shutdown()


def test_forget_removes_a_mapping_and_the_map_is_remembered_without_it(drive, config_dir):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        await pilot.press("L")
        await pick(pilot, "panic")
        await pilot.press("delete")
        assert engine.commands[-1] == Forget("panic")
        await ticks(pilot, engine)
        assert cell(app, "panic") == ""
        engine.move_cc(22, 127)  # the pad does nothing now
        assert engine.panics == 0
        await pilot.press("up")  # response_bars has no CC: nothing to forget, nothing sent
        sent = len(engine.commands)
        await pilot.press("delete")
        assert len(engine.commands) == sent and "no CC" in str(app.screen.status.render())

    drive(scenario, cc={"panic": 22, "regenerate": 24})
    saved = yaml.safe_load((config_dir / "state.yaml").read_text())
    assert saved["cc"] == {"regenerate": 24}


def test_closing_the_list_while_learning_stops_learning(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        await pilot.press("L", "enter")
        await ticks(pilot, engine)
        assert engine.snapshot().learning == CC_CONTROLS[0]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LearnScreen), "the list closed")
        assert engine.commands[-1] == Learn(None)
        await ticks(pilot, engine)
        engine.move_cc(40, 100)  # a knob moved later is not learnt unasked
        assert engine.snapshot().cc_map == () and engine.snapshot().learning is None

    drive(scenario)


def test_an_untouched_cc_map_is_not_remembered(drive, config_dir):
    async def scenario(pilot, app, engine):
        await ticks(pilot, app.engine)

    drive(scenario, cc={"panic": 22})
    # live.yaml stays in charge of the map until the panel changes it.
    assert "cc" not in yaml.safe_load((config_dir / "state.yaml").read_text())
