"""``livegen run`` as a user runs it: a subprocess, one-line errors, a short session on JACK."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.events import hanging, note_events

ROOT = Path(__file__).resolve().parents[2]


def livegen(
    *args: str, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "livegen.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livegen: error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_run_with_a_missing_checkpoint_is_one_line(tmp_path):
    done = livegen("run", "--checkpoint", "does_not_exist")
    assert_one_line_error(done, "does_not_exist")
    missing = tmp_path / "nowhere" / "model.pt"
    assert_one_line_error(livegen("run", "--checkpoint", str(missing)), "model.pt")


def test_run_with_a_garbage_checkpoint_is_one_line(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(bytes(range(256)) * 64)
    assert_one_line_error(livegen("run", "--checkpoint", str(garbage)), "garbage.pt")


@pytest.mark.jack
def test_run_for_two_seconds_on_jack(jack_server):
    done = livegen(
        "run", "--backend", "jack", "--bpm", "120", "--duration", "2", env=jack_server.env
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert "listening on 'livegen-in:livegen in', playing on 'livegen-out:livegen out'" in lines
    summary = [line for line in lines if line.startswith("stopped after")]
    assert len(summary) == 1 and "all notes off (0 open)" in summary[0], done.stdout
    ticks = int(summary[0].split()[2])
    assert 14 <= ticks <= 22, summary  # two seconds at 120 BPM: 16 ticks


@pytest.mark.jack
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_end_every_note(jack_server, peer, signum):
    """A key held through pass-through is certainly sounding when the signal comes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--mode", "free"]
        + ["--passthrough", "--seed", "3", "--duration", "60"],
        cwd=ROOT, env=jack_server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30  # torch and the model load first
        line = ""
        while "listening on" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "livegen run did not open its ports"
        p = peer("--send-to", "livegen in", "--record-from", "livegen out", "--notes", "40:0:12")
        time.sleep(3.0)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    report = p.quit(timeout=20)  # it sends its key's release at 6 s, then stops
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "all notes off (0 open)" in out, out
    got = note_events(report["received"])
    struck = sum(1 for e in got if e[1] == "on")
    held = hanging(got)
    assert struck >= 2, report["received"]  # the passed-through key and livegen's own notes
    assert held == set(), f"left sounding after {signal.Signals(signum).name}: {held}"
