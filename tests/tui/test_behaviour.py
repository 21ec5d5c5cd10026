"""The panel as a session owner: what it remembers, and that errors (a port lost, the
engine's process gone, a model that cannot load, a bug in the panel itself) become notices
or a clean exit that closes the engine (every note ended), never a traceback with notes
left sounding."""

from __future__ import annotations

import pytest
import yaml

from livegen.checkpoint import CheckpointError
from livegen.tui.launch import make_app
from livegen.tui.state import load_state, save_state, state_path
from tests.tui.helpers import FakeEngineClient, ticks, tiny_catalog, until


# ---- remembered settings ----------------------------------------------------------------------
def test_state_file_lives_in_the_config_dir(config_dir):
    assert state_path() == config_dir / "state.yaml"


def test_last_model_temperature_and_mode_are_remembered(drive, config_dir):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        await pilot.press("right_square_bracket", "m", "down", "enter")
        await ticks(pilot, engine)
        assert engine.snapshot().model == "tiny_b_melody"

    drive(scenario)
    saved = yaml.safe_load((config_dir / "state.yaml").read_text())
    assert saved == {"checkpoint": "tiny_b", "temperature": 0.95, "mode": "accompany"}

    # The next run hands them to the session factory (the CLI puts its flags above them).
    asked = []

    def factory(remembered):
        asked.append(remembered)
        return FakeEngineClient(**remembered)

    again = make_app(factory, catalog=tiny_catalog())
    try:
        assert asked == [saved]
        snap = again.engine.snapshot()
        assert (snap.model, snap.temperature, snap.mode) == ("tiny_b_melody", 0.95, "accompany")
    finally:
        again.shutdown()


@pytest.mark.parametrize(
    "text",
    [
        "temperature: [0.9\n",  # not YAML
        "- a list\n",
        "temperature: -1\nmode: jazz\ncheckpoint: 7\n",
        b"\xff\xfe\x00garbage",
    ],
)
def test_a_broken_state_file_is_ignored_with_a_notice(panel, config_dir, text):
    config_dir.mkdir(parents=True)
    path = config_dir / "state.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    state, notice = load_state(path)
    assert state == {} and notice and str(path) in notice
    app = panel()
    assert app.startup_notices[0] == notice
    app.shutdown()
    assert load_state(path) == (
        {"checkpoint": "tiny_a", "temperature": 0.9, "mode": "continue"},
        None,
    )  # rewritten at exit


def test_a_remembered_model_that_is_gone_falls_back_to_the_default(config_dir):
    assert save_state(config_dir / "state.yaml", {"checkpoint": "gone", "mode": "free"}) is None

    def factory(remembered):
        if "checkpoint" in remembered:
            raise CheckpointError("gone: no such file or model name")
        return FakeEngineClient(**remembered)

    app = make_app(factory, catalog=tiny_catalog())
    try:
        assert app.engine.snapshot().mode == "free"  # the rest is still remembered
        assert "gone" in app.startup_notices[0] and "using the default" in app.startup_notices[0]
    finally:
        app.shutdown()


def test_an_unwritable_config_dir_is_a_notice_not_a_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    notice = save_state(blocker / "state.yaml", {"mode": "free"})
    assert notice and "cannot remember" in notice


# ---- errors ---------------------------------------------------------------------------------
def test_a_lost_port_is_a_notice_and_the_panel_stays(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        engine.lose_port()
        await until(pilot, lambda: app.notice_line.has_class("error"), "the error notice")
        assert "MIDI port lost" in app.notices[-1]
        assert app.is_running
        await pilot.press("right_square_bracket", "m")  # controls still answer, no crash

    app = drive(scenario)
    assert not app.return_code  # no crash
    assert app.engine.closed


def test_the_engine_process_gone_is_shown_and_the_panel_stays(drive):
    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        engine.die()
        await until(pilot, lambda: app.notice_line.has_class("error"), "the error notice")
        assert app.notices[-1].startswith("the engine stopped: its process was killed")
        assert app.notices[-1].endswith("q quits")
        await pilot.press("right_square_bracket", "p")  # a notice each, no crash
        assert "the engine stopped" in app.notices[-1]
        assert app.is_running

    app = drive(scenario)
    assert not app.return_code


def test_a_crash_in_the_panel_ends_every_note(panel, drive, monkeypatch):
    app = panel(response_bars=8, silence_ticks=2)

    def broken() -> None:
        raise RuntimeError("a bug in the panel")

    async def scenario(pilot, app, engine):
        await ticks(pilot, engine)
        engine.play_note()
        monkeypatch.setattr(app, "action_panic", broken)
        await pilot.press("p")
        await pilot.pause(0.2)

    with pytest.raises(RuntimeError, match="a bug in the panel"):
        drive(scenario, app=app)
    engine = app.engine
    assert engine.closed and not engine.running and engine.notes_off == 1
    assert engine.snapshot().open_notes == ()
