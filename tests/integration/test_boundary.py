"""The engine's process and its clients on a real JACK server: however a client ends (the panel
quits, the panel or ``livegen run`` is SIGKILLed), the engine ends every note livegen
sounded and its process exits; when the engine's process is killed, the panel says so.

Each session plays in free mode with pass-through on while the peer (``midi_peer.py``, a
separate process) holds a key, so notes are certainly sounding when the client goes. The
peer counts the note-ons and note-offs that reach it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livegen.client import EngineClient
from livegen.live_config import LiveConfig
from livegen.tui.launch import make_app
from livegen.tui.models import Catalog
from tests.integration.events import hanging, note_events

pytestmark = pytest.mark.jack

ROOT = Path(__file__).resolve().parents[2]
PANEL = Path(__file__).with_name("panel_process.py")
HELD = "40:0:12"  # the peer holds a key for 12 quarters (6 s): passed through, sounding
SESSION = ["--mode", "free", "--passthrough", "--seed", "3"]


def cfg() -> LiveConfig:
    return LiveConfig(
        checkpoint="folk_melody", backend="jack", device="cpu", mode="free", passthrough=True
    )


def gone(pid: int, timeout: float = 15.0) -> bool:
    """True once process ``pid`` has exited (a zombie counts: it is only waiting to be reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def engine_child(pid: int, timeout: float = 30.0) -> int:
    """The pid of the engine process that ``pid`` spawned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                    return int(child)
        time.sleep(0.1)
    raise AssertionError(f"process {pid} started no engine process")


def assert_all_notes_ended(report: dict, what: str) -> None:
    got = note_events(report["received"])
    ons = sum(1 for e in got if e[1] == "on")
    offs = sum(1 for e in got if e[1] == "off")
    assert ons >= 2, report["received"]  # the passed-through key and livegen's own notes
    assert hanging(got) == set(), (
        f"left sounding after {what}: {hanging(got)} ({ons} on, {offs} off)"
    )


def test_quitting_the_panel_ends_every_note_and_the_engine_process(
    jack_server, peer, tmp_path, monkeypatch
):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path / "config"))
    app = make_app(lambda remembered: EngineClient.open(cfg()), catalog=Catalog([]))
    engine = app.engine

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            p = peer("--send-to", "livegen in", "--record-from", "livegen out", "--notes", HELD)
            deadline = time.monotonic() + 20
            while len(engine.snapshot().open_notes) < 1 or engine.snapshot().tick < 8:
                assert time.monotonic() < deadline, engine.snapshot()
                await pilot.pause(0.05)
            await pilot.pause(1.0)
            await pilot.press("q")
            return p

    p = asyncio.run(scenario())
    assert engine.process.exitcode == 0 and engine.error is None
    assert engine.snapshot().open_notes == ()
    assert_all_notes_ended(p.quit(timeout=20), "the panel quit")


def test_sigkill_of_the_panel_ends_every_note_and_the_engine_process(jack_server, peer, tmp_path):
    env = {**jack_server.env, "LIVEGEN_CONFIG_DIR": str(tmp_path / "config")}
    panel = subprocess.Popen(
        [sys.executable, str(PANEL), "--mode", "free", "--passthrough"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = panel.stdout.readline()
        assert line.startswith("READY "), panel.stderr.read()
        engine_pid = json.loads(line[6:])["engine_pid"]
        p = peer("--send-to", "livegen in", "--record-from", "livegen out", "--notes", HELD)
        time.sleep(3.0)
        panel.kill()
        panel.wait(10)
        assert gone(engine_pid), "the engine process outlived its client"
    finally:
        if panel.poll() is None:
            panel.kill()
    assert_all_notes_ended(p.quit(timeout=20), "SIGKILL of the panel")


def test_sigkill_of_livegen_run_ends_every_note_and_the_engine_process(jack_server, peer):
    proc = subprocess.Popen(
        [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", *SESSION]
        + ["--duration", "60"],
        cwd=ROOT, env=jack_server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "listening on" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "livegen run did not open its ports"
        engine_pid = engine_child(proc.pid)
        p = peer("--send-to", "livegen in", "--record-from", "livegen out", "--notes", HELD)
        time.sleep(3.0)
        proc.kill()
        proc.wait(10)
        assert gone(engine_pid), "the engine process outlived its client"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_all_notes_ended(p.quit(timeout=20), "SIGKILL of livegen run")


def test_killing_the_engine_process_is_shown_on_the_panel(jack_server, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path / "config"))
    app = make_app(lambda remembered: EngineClient.open(cfg()), catalog=Catalog([]))
    engine = app.engine

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 20
            while engine.snapshot().tick < 2:
                assert time.monotonic() < deadline, engine.snapshot()
                await pilot.pause(0.05)
            os.kill(engine.hello.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while not app.notice_line.has_class("error"):
                assert time.monotonic() < deadline, app.notices
                await pilot.pause(0.05)
            assert app.notices[-1] == (
                "the engine stopped: its process was killed (SIGKILL); q quits"
            )
            assert not engine.running and app.is_running
            await pilot.press("p")  # a notice, not a crash
            assert "the engine stopped" in app.notices[-1]
            await pilot.press("q")

    asyncio.run(scenario())
    assert not app.return_code
