"""``livegen run --synth`` on a real JACK server: FluidSynth starts, plays ``livegen out``,
and is gone after the session, however the session ends (close, SIGTERM, the client or the
engine's process killed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livegen import synth
from livegen.synth import SynthError

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.jack


@pytest.fixture(scope="module", autouse=True)
def _fluidsynth():
    try:
        synth.find_fluidsynth()
        synth.find_soundfont()
    except SynthError as err:
        if os.environ.get("LIVEGEN_REQUIRE_SYNTH"):  # CI installs them: a skip would hide it
            pytest.fail(str(err))
        pytest.skip(str(err))


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) from /proc, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return name, state, int(ppid)


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (pid -> command name)."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[2], []).append((int(entry), stat[0]))
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child, name in parents.get(todo.pop(), []):
            found[child] = name
            todo.append(child)
    return found


def running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] not in ("Z", "X")  # a zombie has ended


def connections(server) -> dict[str, list[str]]:
    """``jack_lsp -c``: each port with the ports it is connected to."""
    done = subprocess.run(
        [shutil.which("jack_lsp"), "-c"], env=server.env, capture_output=True, text=True, timeout=10
    )
    out: dict[str, list[str]] = {}
    current = None
    for line in done.stdout.splitlines():
        if line.startswith((" ", "\t")) and current is not None:
            out[current].append(line.strip())
        elif line.strip():
            current = line.strip()
            out[current] = []
    return out


def start_livegen(server, *args: str) -> tuple[subprocess.Popen, list[str]]:
    """``livegen run --synth`` until its ports are open; the lines it printed so far."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--synth", *args],
        cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    deadline = time.monotonic() + 60  # torch, the model and FluidSynth's soundfont load first
    while not lines or "listening on" not in lines[-1]:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"livegen run ended: {proc.stderr.read()}")
        lines.append(line.rstrip("\n"))
        assert time.monotonic() < deadline, "livegen run did not open its ports"
    return proc, lines


def the_synth(proc: subprocess.Popen) -> int:
    synths = [pid for pid, name in descendants(proc.pid).items() if name == "fluidsynth"]
    assert len(synths) == 1, descendants(proc.pid)
    return synths[0]


def assert_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while running(pid):
        assert time.monotonic() < deadline, f"fluidsynth (pid {pid}) outlived the session"
        time.sleep(0.05)


def test_synth_plays_livegen_out_and_stops_when_the_session_closes(jack_server):
    proc, lines = start_livegen(jack_server, "--mode", "free", "--duration", "3")
    try:
        fluid = the_synth(proc)
        notice = next(line for line in lines if line.startswith("FluidSynth ("))
        assert "plays 'livegen out' as 'livegen-synth'" in notice, notice
        assert "no sound card output" in notice  # the dummy server has no playback ports
        links = connections(jack_server)
        assert links.get("livegen-synth:midi_00") == ["livegen-out:livegen out"], links
        out, err = proc.communicate(timeout=60)  # --duration ends it: the ordinary close
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "all notes off (0 open)" in out, out
    assert_gone(fluid)
    assert not any(n.startswith("livegen-synth:") for n in connections(jack_server))


@pytest.mark.parametrize("how", ["SIGTERM", "client killed", "engine killed"])
def test_no_fluidsynth_is_left_however_the_session_ends(jack_server, how):
    proc, _ = start_livegen(jack_server, "--mode", "free", "--duration", "60")
    try:
        fluid = the_synth(proc)
        engine = _stat(fluid)[2]  # FluidSynth is the engine process's child
        assert engine != proc.pid and _stat(engine)[2] == proc.pid
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
        elif how == "client killed":  # the engine sees its pipe close and ends the session
            proc.kill()
            proc.communicate(timeout=30)
            assert_gone(engine)
        else:  # nothing in livegen runs any more: the kernel and the closed pipe end it
            os.kill(engine, signal.SIGKILL)
            assert_gone(engine)
        assert_gone(fluid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_missing_soundfont_is_one_line_and_opens_nothing(jack_server, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--synth"]
        + ["--soundfont", str(tmp_path / "none.sf2"), "--duration", "1"],
        cwd=ROOT, env=jack_server.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livegen: error: soundfont "), done.stderr
    assert "none.sf2 not found" in lines[0]
    assert not any(n.startswith(("livegen-", "livegen ")) for n in connections(jack_server))
