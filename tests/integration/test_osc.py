"""OSC control of a live session on a real JACK server, over real UDP sockets on 127.0.0.1.

The engine runs in its own process (``EngineClient``, as under the panel); the controller
is another process (``osc_peer.py``, python-osc only) and the notes livegen plays are
recorded by ``midi_peer.py`` on the same private ``jackd -d dummy``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pythonosc.osc_packet import OscPacket

from livegen.client import EngineClient
from livegen.live_config import LiveConfig
from tests.integration.events import hanging, note_events

pytestmark = pytest.mark.jack

ROOT = Path(__file__).resolve().parents[2]
OSC_PEER = Path(__file__).with_name("osc_peer.py")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OscPeer:
    """``osc_peer.py`` in a process of its own, sending to livegen's OSC port."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(OSC_PEER), "--port", str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout.readline().strip() == "READY", self.proc.stderr.read()

    def send(self, spec) -> float:
        """Send and wait until sent; the perf_counter stamp of the first datagram."""
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line.startswith("SENT "), self.proc.stderr.read()
        return float(line.split()[1])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def until(engine, predicate, timeout: float = 10.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        snap = engine.snapshot()
        if predicate(snap):
            return snap
        assert engine.running, engine.error
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {snap}"
        time.sleep(0.005)


@pytest.fixture
def session(jack_server):
    """An engine process listening for OSC on a free port, replying to a UDP socket of ours."""
    port = free_port()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5.0)
    cfg = LiveConfig(
        checkpoint="folk_melody", backend="jack", device="cpu", mode="free", seed=3, bpm=60.0,
        osc=port, osc_reply=f"127.0.0.1:{sink.getsockname()[1]}",
    )  # fmt: skip
    engine = EngineClient.open(cfg)
    osc = OscPeer(port)
    try:
        yield engine, osc, sink, port
    finally:
        osc.close()
        engine.close()
        sink.close()


def test_the_listener_is_announced_on_loopback(session):
    engine, _, _, port = session
    assert f"OSC: listening on 127.0.0.1:{port}" in " ".join(engine.hello.notices)


def test_a_message_takes_effect_at_the_next_tick(session):
    engine, osc, _, _ = session
    engine.start()
    until(engine, lambda s: s.tick >= 2, what="the session to play")
    seen = engine.snapshot().tick  # the engine is at most one tick (250 ms) past it
    osc.send([["/livegen/temperature", 0.5], ["/livegen/mode", "accompany"]])
    snap = until(engine, lambda s: s.temperature == 0.5, what="the temperature")
    # Applied at the start of the tick after the one running when it came: seen + 2 at most.
    assert snap.tick <= seen + 2, (seen, snap.tick)
    assert snap.mode == "accompany" and snap.osc_received == 2
    assert sum(n for _, n in snap.osc_ignored) == 0


def test_panic_by_osc_ends_every_sounding_note(session, peer):
    engine, osc, _, _ = session
    p = peer("--record-from", "livegen out", "--hold", "--duration", "60")
    osc.send([["/livegen/tempo", 240.0]])
    engine.start()
    until(engine, lambda s: len(s.open_notes) > 0 and s.bpm == 240.0, what="a sounding note")
    osc.send([["/livegen/panic", 1.0], ["/livegen/panic", 0.0]])  # a button: press, release
    until(engine, lambda s: "panic: all notes off" in s.notices, what="the panic")
    osc.send([["/livegen/stop"]])
    until(engine, lambda s: s.phase == "stopped" and not s.open_notes, what="the stop")
    time.sleep(0.3)
    rows = p.quit(timeout=20)["received"]
    first_cc123 = next(
        i for i, (_, m) in enumerate(rows) if m[0] & 0xF0 == 0xB0 and m[1] == 123
    )  # the panic's All Notes Off comes after the note-offs it sent
    before = note_events(rows[:first_cc123])
    assert any(kind == "on" for _, kind, _, _ in before), "nothing sounded before the panic"
    assert hanging(before) == set(), f"sounding through the panic: {hanging(before)}"
    assert hanging(note_events(rows)) == set()
    assert engine.snapshot().osc_received == 3  # the release was no command


def test_garbage_is_counted_and_the_engine_plays_on(session):
    engine, osc, _, _ = session
    engine.start()
    until(engine, lambda s: s.tick >= 1, what="the session to play")
    osc.send({"garbage": 500, "seconds": 0.5})  # 1,000 datagrams
    snap = until(
        engine, lambda s: sum(n for _, n in s.osc_ignored) >= 1000, what="the garbage counted"
    )
    ignored = dict(snap.osc_ignored)
    assert ignored["bad_value"] == 167 and ignored["malformed"] >= 167, ignored
    assert sum(ignored.values()) == 1000 and snap.osc_received == 0
    tick = snap.tick
    osc.send([["/livegen/temperature", 1.25]])  # it still listens, and the engine still ticks
    snap = until(engine, lambda s: s.temperature == 1.25 and s.tick > tick, what="a command")
    assert snap.error is None and snap.running


def test_the_figures_come_back_a_few_times_a_second(session):
    engine, osc, sink, _ = session
    osc.send([["/livegen/temperature", 0.75]])
    engine.start()
    until(engine, lambda s: s.tick >= 2 and s.temperature == 0.75, what="the session")
    figures = []
    t0 = time.monotonic()
    while len(figures) < 3:
        packet = OscPacket(sink.recv(65536))
        got = {m.message.address: m.message.params[0] for m in packet.messages}
        if got["/livegen/tick"] >= 2:  # older ones waited in the socket since the opening
            figures.append(got)
    assert time.monotonic() - t0 < 3.0  # 4 a second: three come within a second or so
    last = figures[-1]
    assert last["/livegen/temperature"] == 0.75 and last["/livegen/mode"] == "free"
    assert last["/livegen/model"] == "folk_melody" and last["/livegen/bpm"] == 60.0
    assert last["/livegen/tick"] >= figures[0]["/livegen/tick"] >= 2
    assert set(last) >= {"/livegen/bar", "/livegen/phase", "/livegen/open_notes"}


def test_livegen_run_says_in_one_line_when_the_osc_port_is_taken(jack_server):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--osc", str(port)]
            + ["--duration", "5"],
            cwd=ROOT, env=jack_server.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        taken.close()
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"livegen: error: cannot listen for OSC on 127.0.0.1:{port}: Address already in use; "
        "choose another port with --osc PORT"
    )


def listener_pid(engine_pid: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{engine_pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"livegen.osc.receiver" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
        time.sleep(0.05)
    raise AssertionError("the engine's process started no OSC listener")


def test_the_listener_ends_with_the_engine_process_even_when_killed(session):
    import os
    import signal

    from tests.integration.test_boundary import gone

    engine, _, _, port = session
    child = listener_pid(engine.hello.pid)
    os.kill(engine.hello.pid, signal.SIGKILL)
    assert gone(child), "the OSC listener outlived the engine's process"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))  # the port is free again
