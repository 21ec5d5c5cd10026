"""The panel's preset chooser (``P``): a preset applies live as commands; a broken one is a
notice and sends nothing. The presets themselves: tests/test_presets.py."""

from __future__ import annotations

import pytest

from livegen.controls import Control, Set, SwitchModel
from livegen.tui.presets import PresetScreen
from tests.tui.helpers import ticks, until


async def choose(pilot, app, name: str) -> None:
    """Open the list, move to ``name`` and press enter."""
    await pilot.press("P")
    assert isinstance(app.screen, PresetScreen)
    names = [n for n, _ in app.screen.found]
    for _ in range(names.index(name)):
        await pilot.press("down")
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, PresetScreen), "the list closed")


@pytest.fixture
def user_presets(config_dir):
    folder = config_dir / "presets"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("temprature: 0.5\n", encoding="utf-8")
    (folder / "mine.yaml").write_text(
        "description: tiny b, hot, in A minor\ncheckpoint: tiny_b\ntemperature: 1.4\n"
        "key: A minor\nchannel: 3\ncc: {regenerate: 40}\n",
        encoding="utf-8",
    )
    return folder


def test_a_preset_from_the_list_applies_live(drive, user_presets):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        await choose(pilot, app, "mine")
        assert engine.commands[0] == SwitchModel("tiny_b")
        assert Set(Control.TEMPERATURE, 1.4) in engine.commands
        await ticks(pilot, engine)
        snap = engine.snapshot()
        assert snap.model == "tiny_b_melody"
        assert (snap.temperature, snap.key, snap.channel) == (1.4, "A minor", 3)
        assert snap.cc_map == (("regenerate", 40),)  # the preset's map, whole
        assert any(n.startswith("preset mine: checkpoint, temperature") for n in app.notices)

    drive(scenario, cc={"panic": 22}, temperature=0.9)


def test_a_broken_preset_is_listed_and_choosing_it_is_a_notice_that_sends_nothing(
    drive, user_presets
):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        await choose(pilot, app, "broken")
        assert engine.commands == []
        notice = app.notices[-1]
        assert notice.startswith("preset broken not applied:")
        assert "broken.yaml" in notice and "unknown key 'temprature'" in notice
        await ticks(pilot, engine)
        assert engine.snapshot().temperature == 0.9 and app.engine.running
        # The shipped ones are still there and still apply.
        await choose(pilot, app, "jam")
        await ticks(pilot, engine)
        assert (engine.snapshot().mode, engine.snapshot().temperature) == ("free", 1.3)

    drive(scenario, temperature=0.9)
