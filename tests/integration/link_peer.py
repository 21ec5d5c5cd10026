"""A second Ableton Link peer, in a process of its own, that runs livegen and measures it.

Run inside a private network namespace (tests/integration/netns.py; it refuses to run
where any interface but loopback exists, so its Link traffic cannot leave the machine).
It joins Link, starts ``livegen run --clock link --clock-out`` on the JACK server named by
the environment, records livegen's MIDI clock on JACK (every message stamped with
``perf_counter`` and with this peer's own Link beat at its arrival; polled, see
:class:`Recorder`), and plays a script:

1. set the session's tempo to ``--bpm``, hold it ``--hold-bars`` bars;
2. change the tempo to each of ``--tempos`` (or ``--changes`` times, alternately
   ``--bpm2`` and ``--bpm``), then back to ``--bpm`` if it is not there, holding each; a
   change falls 7/48 of a beat past a beat: halfway between two of livegen's ticks (its
   pulses for the tick are queued then) and between two of its pulses, so the first pulse
   after it is one livegen sent knowing the new tempo or not; each is kept as ``[time,
   tempo, Link beat]``;
3. start the session's transport, hold 1.5 bars, then ``--bars`` bars at ``--bpm`` (the
   downbeat figures), stop it, hold half a bar;
4. ask livegen to play, then (1.5 bars later) to stop, by OSC as its panel would, and time
   how long this peer's transport takes to follow each;

then ends livegen (SIGTERM) and writes a JSON report to ``--report``: the script's times,
the messages, and livegen's output lines. ``link_figures.analyse`` turns a report into
figures.

    python tests/integration/link_peer.py --report r.json --bpm 150 --bpm2 180
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import rtmidi

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.netns import only_loopback  # noqa: E402

QUANTUM = 4
CHANGE_PHASE = 7 / 48  # beats past a beat where a tempo change falls (the docstring, 2.)
KINDS = {0xF8: "clock", 0xFA: "start", 0xFC: "stop"}


class Recorder:
    """livegen's clock as it arrives: (stamp, kind, this peer's beat, tempo) rows.

    Polled from a thread, not a callback: a Python callback on JACK's process thread waits
    for the GIL, and jackd drops the MIDI of the cycles it misses (polled_input.py), which
    lost whole bars of pulses here. A message's stamp is estimated from rtmidi's deltas
    within what the polls prove; its Link beat is the beat read at the poll, taken back to
    that stamp at the tempo of the moment.
    """

    def __init__(self, link, midi_in) -> None:
        self.link = link
        self.midi_in = midi_in
        self.rows: list[tuple[float, str, float, float]] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link-peer-in", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        get, clock, link = self.midi_in.get_message, time.perf_counter, self.link
        last, floor = None, clock()
        while not self._stop.is_set():
            before = clock()
            item = get()
            if item is None:
                floor = before
                time.sleep(0.0005)
                continue
            data, delta = item
            now = clock()
            beat, tempo = link.beat, link.tempo
            read = (now + clock()) / 2
            stamp = now if last is None else min(max(last + delta, floor), now)
            last = stamp
            kind = KINDS.get(data[0])
            if kind is None:
                continue
            with self.lock:
                self.rows.append((stamp, kind, beat - (read - stamp) * tempo / 60.0, tempo))


def find_port(rt, wanted: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [i for i, name in enumerate(rt.get_ports()) if wanted in name]
        if len(hits) == 1:
            return hits[0]
        time.sleep(0.1)
    raise SystemExit(f"link_peer: no port {wanted!r} among {rt.get_ports()}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def osc_and_wait(link, port: int, address: str, playing: bool, timeout: float = 3.0):
    """Send ``address`` to livegen's OSC port; seconds until this peer's Link transport is
    ``playing`` (None: it never was)."""
    from pythonosc.udp_client import SimpleUDPClient

    sent = time.perf_counter()
    SimpleUDPClient("127.0.0.1", port).send_message(address, [])
    while time.perf_counter() - sent < timeout:
        if bool(link.playing) == playing:
            return time.perf_counter() - sent
        time.sleep(0.002)
    return None


def bars(n: float, tempo: float) -> float:
    return n * QUANTUM * 60.0 / tempo


def change_tempo(link, tempo: float) -> list[float]:
    """Set the session's tempo at the next ``CHANGE_PHASE`` past a beat: ``[time, tempo,
    beat]``, the beat where this peer's timeline bends (read right after the change)."""
    time.sleep(((CHANGE_PHASE - link.beat) % 1.0) * 60.0 / link.tempo)
    t = time.perf_counter()
    link.tempo = tempo
    return [t, tempo, link.beat]


def tempo_script(args) -> list[float]:
    """The tempos the peer changes to, in order, ending on ``--bpm``."""
    if args.tempos:
        tempos = [float(x) for x in args.tempos.split(",")]
    else:
        tempos = [args.bpm2 if i % 2 == 0 else args.bpm for i in range(args.changes)]
    return tempos if tempos and tempos[-1] == args.bpm else [*tempos, args.bpm]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", required=True)
    ap.add_argument("--bpm", type=float, default=150.0)
    ap.add_argument("--bpm2", type=float, default=180.0)
    ap.add_argument("--hold-bars", type=float, default=2.0)
    ap.add_argument("--changes", type=int, default=1)
    ap.add_argument("--tempos", default="", help="BPMs to change to in order, e.g. 150,90,180")
    ap.add_argument("--bars", type=int, default=0)
    ap.add_argument("--livegen-timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    if not only_loopback():
        raise SystemExit("link_peer: run me in a network namespace with only loopback")

    import aalink

    async def make():
        return aalink.Link(args.bpm)

    link = asyncio.run(make())  # the loop closes: aalink's callbacks are dropped, unused
    link.quantum = QUANTUM
    link.start_stop_sync_enabled = True
    link.enabled = True

    out_log = Path(args.report).with_suffix(".livegen.txt")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    osc_port = free_udp_port()
    livegen = subprocess.Popen(
        [sys.executable, "-m", "livegen.cli", "run", "--clock", "link", "--clock-out"]
        + ["--backend", "jack", "--mode", "continue", "--bpm", "120", "--osc", str(osc_port)],
        stdout=out_log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    script: dict[str, object] = {}
    midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="link peer", queue_size_limit=65536)
    midi_in.ignore_types(sysex=True, timing=False, active_sense=True)
    recorder = Recorder(link, midi_in)
    recorder.start()
    try:
        midi_in.open_port(find_port(midi_in, "livegen out", args.livegen_timeout), "clock in")
        deadline = time.monotonic() + 20
        while link.num_peers < 1:
            if time.monotonic() > deadline:
                raise SystemExit("link_peer: livegen never joined the Link session")
            time.sleep(0.05)
        script["joined"] = time.perf_counter()
        link.tempo = tempo = args.bpm
        script["tempo_set"] = [[time.perf_counter(), tempo, link.beat]]
        time.sleep(bars(args.hold_bars, tempo))
        for tempo in tempo_script(args):
            script["tempo_set"].append(change_tempo(link, tempo))
            time.sleep(bars(args.hold_bars, tempo))
        # Transport: start half a beat into a bar (livegen starts 3.5 beats later, on the
        # next bar), the downbeat bars, stop.
        time.sleep(((0.5 - link.phase) % QUANTUM) * 60.0 / tempo)
        link.playing = True
        script["play"] = [time.perf_counter(), link.beat, tempo]
        time.sleep(bars(1.5, tempo))
        script["bars_from"] = time.perf_counter()
        time.sleep(bars(args.bars, tempo))
        link.playing = False
        script["stop"] = [time.perf_counter(), link.beat, tempo]
        time.sleep(bars(0.5, tempo))
        script["peers_seen_by_peer"] = link.num_peers
        # livegen's own Start and Stop (OSC, as from the panel) reach this peer's transport.
        # After its start livegen ticks again from the next bar (commands act at a tick), so
        # the stop comes a bar and a half later, as a musician's would.
        script["/livegen/play"] = osc_and_wait(link, osc_port, "/livegen/play", True)
        time.sleep(bars(1.5, tempo))
        script["/livegen/stop"] = osc_and_wait(link, osc_port, "/livegen/stop", False)
        time.sleep(bars(0.5, tempo))  # livegen says so before it is ended
    finally:
        livegen.send_signal(signal.SIGTERM)
        try:
            livegen.wait(20)
        except subprocess.TimeoutExpired:
            livegen.kill()
            livegen.wait()
        time.sleep(0.05)  # the last messages in flight
        recorder.stop()
        midi_in.close_port()
    with recorder.lock:
        rows = list(recorder.rows)
    report = {
        "script": script,
        "rows": rows,
        "livegen_output": out_log.read_text(),
        "livegen_status": livegen.returncode,
        "quantum": QUANTUM,
    }
    Path(args.report).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
