"""A second Ableton Link peer, in a process of its own, that runs livegen and measures it.

Run inside a private network namespace (tests/integration/netns.py; it refuses to run
where any interface but loopback exists, so its Link traffic cannot leave the machine).
It joins Link, starts ``livegen run --clock link --clock-out`` on the JACK server named by
the environment, records livegen's MIDI clock on JACK (every message stamped with
``perf_counter`` and with this peer's own Link beat at its arrival; polled, see
:class:`Recorder`), and plays a script:

1. set the session's tempo to ``--bpm``, hold it ``--hold-bars`` bars;
2. ``--changes`` times: change the tempo (alternately ``--bpm2`` and ``--bpm``), hold;
3. start the session's transport, hold 1.5 bars, then ``--bars`` bars at ``--bpm`` (the
   downbeat figures), stop it, hold half a bar;
4. ask livegen to play, then (1.5 bars later) to stop, by OSC as its panel would, and time
   how long this peer's transport takes to follow each;

then ends livegen (SIGTERM) and writes a JSON report to ``--report``: the script's times,
the messages, and livegen's output lines. :func:`analyse` turns a report into figures.

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
PPQN = 24
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", required=True)
    ap.add_argument("--bpm", type=float, default=150.0)
    ap.add_argument("--bpm2", type=float, default=180.0)
    ap.add_argument("--hold-bars", type=float, default=2.0)
    ap.add_argument("--changes", type=int, default=1)
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
        link.tempo = args.bpm
        script["tempo_set"] = [[time.perf_counter(), args.bpm]]
        time.sleep(bars(args.hold_bars, args.bpm))
        tempo = args.bpm
        for i in range(args.changes):
            tempo = args.bpm2 if i % 2 == 0 else args.bpm
            link.tempo = tempo
            script["tempo_set"].append([time.perf_counter(), tempo])
            time.sleep(bars(args.hold_bars, tempo))
        if tempo != args.bpm:
            link.tempo = tempo = args.bpm
            script["tempo_set"].append([time.perf_counter(), tempo])
            time.sleep(bars(1, tempo))
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


# ---- figures from a report -----------------------------------------------------------------
def offset(beat: float, tempo: float, unit: float) -> float:
    """Seconds from ``beat`` to the nearest multiple of ``unit`` beats (late: positive)."""
    return (beat - round(beat / unit) * unit) * 60.0 / tempo


def runs(rows: list) -> list[list]:
    """The clock pulses of each run from a MIDI Start: [(stamp, beat, tempo, pulse index)].

    A pulse JACK lost (an xrun on the dummy server) would shift every later index and so
    every later tick: the index advances by the number of pulse intervals since the last
    pulse (at this peer's tempo; livegen's differs from it by at most a tempo change,
    540 against 600 BPM here, which still rounds to one), so a loss costs one pulse.
    """
    found: list[list] = []
    current = None
    for stamp, kind, beat, tempo in rows:
        if kind == "start":
            current = []
            found.append(current)
        elif kind == "stop":
            current = None
        elif kind == "clock" and current is not None:
            index = 0
            if current:
                last_stamp, _, _, last = current[-1]
                index = last + max(1, round((stamp - last_stamp) * PPQN * tempo / 60.0))
            current.append((stamp, beat, tempo, index))
    return found


def bar_lines(pulses: list, q: int, half: int) -> tuple[list[float], int]:
    """For each of this peer's bar lines the pulses span, the offset of livegen's pulse
    nearest it (livegen's downbeat: its pulses lie on its bars), found by the peer's beat,
    not by counting pulses, so a pulse lost by JACK (an xrun) costs one bar, not the rest.
    A bar with no pulse within a ``1 / half`` beat is missing."""
    nearest: dict[int, tuple[float, float]] = {}
    for _, beat, tempo, _ in pulses:
        bar = round(beat / q)
        d = abs(beat - bar * q)
        if d < 1 / half and (bar not in nearest or d < abs(nearest[bar][0])):
            nearest[bar] = (beat - bar * q, tempo)
    if not pulses:
        return [], 0
    first, last = round(pulses[0][1] / q), round(pulses[-1][1] / q)
    offsets = [nearest[b][0] * 60.0 / nearest[b][1] for b in sorted(nearest)]
    return offsets, (last - first + 1) - len(offsets)


def analyse(report: dict, tpq: int = 4, tolerance: float = 0.004) -> dict:
    """Figures: downbeat offsets, beats to follow each tempo change, Start and Stop.

    Ticks are counted in pulses from livegen's MIDI Start (its tick 0 is on a bar).

    A tick "follows" once its first pulse lies within ``tolerance`` seconds of this peer's
    tick grid and every later tick in that tempo's span does too; the tolerance must cover
    JACK's delivery (up to one period).
    """
    script, rows = report["script"], report["rows"]
    ppt = PPQN // tpq
    q = report["quantum"]
    pulses = [p for run in runs(rows) for p in run]
    ticks = [p for p in pulses if p[3] % ppt == 0]

    follows = []
    sets = script["tempo_set"]
    for i, (t_set, tempo) in enumerate(sets[1:], 1):
        t_next = sets[i + 1][0] if i + 1 < len(sets) else script["play"][0]
        span = [p for p in ticks if t_set < p[0] < t_next]
        ok = [abs(offset(b, tp, 1 / tpq)) <= tolerance for _, b, tp, _ in span]
        # Followed: four ticks in a row on the new grid (one late tick is not a tempo).
        first = next((k for k in range(len(ok) - 3) if all(ok[k : k + 4])), None)
        beats = None if first is None else (span[first][0] - t_set) * tempo / 60.0
        on_grid = sum(ok[first:]) / len(ok[first:]) if first is not None else 0.0
        follows.append(
            {"tempo": tempo, "beats_to_follow": beats, "ticks": len(span), "on_grid": on_grid}
        )

    t_play, beat_play, tempo = script["play"]
    starts = [r for r in rows if r[1] == "start" and r[0] > t_play]
    start = None
    if starts:
        s = starts[0]
        start = {
            "after_s": s[0] - t_play,
            "bar_offset_s": offset(s[2], s[3], q),
            "beats_after_play": s[2] - beat_play,
        }
    t_stop = script["stop"][0]
    stops = [r for r in rows if r[1] == "stop" and r[0] > t_stop]
    bars_from = script["bars_from"]
    bar_offsets, missing = bar_lines(
        [p for p in pulses if bars_from < p[0] < t_stop], q, half=PPQN * 2
    )
    return {
        "follows": follows,
        "start": start,
        "stop_after_s": stops[0][0] - t_stop if stops else None,
        "downbeat_offsets_s": bar_offsets,
        "downbeats_missing": missing,
        "grid_offsets_s": [
            offset(b, tp, 1 / tpq) for t, b, tp, _ in ticks if bars_from < t < t_stop
        ],
        "pulses": len(pulses),
    }


if __name__ == "__main__":
    sys.exit(main())
