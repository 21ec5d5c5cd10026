"""Session recording on a real JACK server: ``livegen run --record`` in its own process, a
peer process playing into ``livegen in``, and another, separate JACK client listening on
``livegen out``. The recorded livegen track must be what that client received, note for
note; an engine killed with SIGKILL must leave a journal that recovers all but at most the
last bar."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest

from livegen import journal
from tests.integration.events import note_events
from tests.integration.test_boundary import engine_child

pytestmark = pytest.mark.jack

ROOT = Path(__file__).resolve().parents[2]
BPM = 120.0
BAR = 4 * 60.0 / BPM  # seconds in a 4/4 bar
# A call of eight notes over two bars; pass-through echoes it, then livegen answers.
CALL = ",".join(f"{60 + (k % 5) * 2}:{k}:0.9" for k in range(8))


def start_livegen(env: dict, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--seed", "3"]
        + ["--bpm", str(BPM), "--passthrough", "--duration", "60", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30  # torch and the model load first
    line = ""
    while "listening on" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(proc.stderr.read())
        assert time.monotonic() < deadline, "livegen run did not open its ports"
    return proc


def file_notes(path: Path) -> list[tuple[float, str, int, int]]:
    """``(seconds, on|off, pitch, channel)`` of the livegen track, through the tempo map."""
    midi = mido.MidiFile(path)
    alone = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    alone.tracks = [midi.tracks[0], next(t for t in midi.tracks if t.name == "livegen")]
    rows, t = [], 0.0
    for msg in alone:  # played: times in seconds, at the conductor's tempo map
        t += msg.time
        if msg.type in ("note_on", "note_off"):
            rows.append([t, list(msg.bytes())])
    return note_events(rows)


def shape(events) -> list[tuple[str, int, int]]:
    return [e[1:] for e in events]


def test_the_livegen_track_is_what_a_separate_client_received(jack_server, peer, tmp_path):
    target = tmp_path / "take.mid"
    proc = start_livegen(jack_server.env, "--record", str(target))
    try:
        listener = peer(
            "--client", "listener", "--record-from", "livegen out", "--hold", "--duration", "90"
        )
        assert "record_from" in listener.info  # connected before anything is played
        player = peer("--client", "player", "--send-to", "livegen in", "--notes", CALL)
        player.wait(timeout=20)
        time.sleep(1.0 + 2 * BAR)  # the silence that ends the call, then a 2-bar answer
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    heard = note_events(listener.quit(timeout=20)["received"])
    recorded = file_notes(target)
    assert len(heard) > 16, heard  # the call passed through, and livegen's answer
    assert shape(recorded) == shape(heard)
    assert not journal.journal_path(target).exists()
    # The file's times are the sends' own: its span matches what the client measured.
    span_file = recorded[-1][0] - recorded[0][0]
    span_heard = heard[-1][0] - heard[0][0]
    assert abs(span_file - span_heard) < 0.03, (span_file, span_heard)


def test_a_sigkilled_engine_leaves_a_journal_that_loses_at_most_the_last_bar(
    jack_server, peer, tmp_path
):
    target = tmp_path / "take.mid"
    proc = start_livegen(jack_server.env, "--record", str(target))
    try:
        engine = engine_child(proc.pid)
        listener = peer(
            "--client", "listener", "--record-from", "livegen out", "--hold", "--duration", "90"
        )
        long_call = ",".join(f"{60 + (k % 7)}:{k * 0.5}:0.4" for k in range(40))  # 10 s
        peer("--client", "player", "--send-to", "livegen in", "--notes", long_call)
        time.sleep(6.0)
        killed = time.perf_counter()
        subprocess.run(["kill", "-KILL", str(engine)], check=True)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    heard = note_events(listener.quit(timeout=20)["received"])
    assert journal.journal_path(target).exists() and not target.exists()
    done = subprocess.run(
        [sys.executable, "-m", "livegen.cli", "recover", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "recovered" in done.stdout, done.stderr
    ons_file = [e[1:] for e in file_notes(target) if e[1] == "on"]
    ons_heard = [e[1:] for e in heard if e[1] == "on"]
    before_last_bar = [e[1:] for e in heard if e[1] == "on" and e[0] < killed - BAR]
    assert len(before_last_bar) >= 8, heard
    assert ons_file == ons_heard[: len(ons_file)]  # nothing invented, nothing reordered
    assert len(ons_file) >= len(before_last_bar), (len(ons_file), len(before_last_bar))
