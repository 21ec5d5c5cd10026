"""Ableton Link sync: how fast livegen follows a peer's tempo, how close its downbeats fall.

A second Link peer in its own process (tests/integration/link_peer.py) runs
``livegen run --clock link --clock-out`` and reads livegen's MIDI clock on a private
``jackd -d dummy`` server with 64-frame periods (1.33 ms at 48 kHz, so JACK's delivery
adds at most that), everything inside a private network namespace with only loopback
(no Link packet leaves the machine). The peer stamps each message with ``perf_counter``
and its own Link beat on arrival; every pulse is numbered by that beat, not counted from
MIDI Start (tests/integration/link_figures.py), so a pulse JACK lost costs only itself.

- Tempo: the peer changes the session's tempo through ``--tempos`` (up and down, then back
  to ``--bpm``), each change between two ticks and two pulses, ``--hold-bars`` each. Per
  change: beats on the peer's timeline until livegen's pulses are back on the new tempo's
  grid (a tick's worth, 6 pulses, one number apart, within ``--tolerance`` of JACK's
  delivery window), the worst pulse in the beat after the change, pulses lost and bunched,
  xruns. The change to 600 BPM is not measurable so (a pulse is 4.2 ms, the window 5.3).
- Downbeats: livegen's pulse on each of the peer's bar lines against that bar line, over
  ``--bars`` bars at ``--bpm`` (600 BPM, 0.4 s a bar, keeps 500 bars to 200 s).

Offsets are arrival minus the peer's grid line, so they include JACK's delivery. Xruns are
jackd's log lines (events.XrunWatch), stamped by polling the log every 20 ms.

    .venv/bin/python bench/link_sync.py                    # 500 bars, ~5 minutes
    .venv/bin/python bench/link_sync.py --bars 50          # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from tests.integration.events import XrunWatch  # noqa: E402
from tests.integration.link_figures import analyse  # noqa: E402
from tests.integration.netns import in_netns, netns_unavailable  # noqa: E402

JACK_RATE, JACK_PERIOD = 48000, 64
TEMPOS = "120,150,90,180,120,150,90,180"


class XrunTimes:
    """When jackd logged its xruns: ``perf_counter`` stamps (to a poll) of each new one."""

    def __init__(self, watch: XrunWatch, every: float = 0.02):
        self.watch, self.every = watch, every
        self.stamps: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xrun-times", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = 0
        while not self._stop.wait(self.every):
            count = self.watch.count()
            self.stamps += [time.perf_counter()] * (count - seen)
            seen = count

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.stamps if start < t <= end + self.every)


def percentiles(values_s: list[float]) -> dict:
    ms = np.array(values_s) * 1000
    if not len(ms):
        return {}
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99_abs": float(np.percentile(np.abs(ms), 99)),
        "max_abs": float(np.abs(ms).max()),
        "min": float(ms.min()),
    }


def run_peer(args, server) -> tuple[dict, XrunTimes, float]:
    """The peer's report, jackd's xrun stamps, and the load average over the run."""
    report_path = Path(tempfile.mkdtemp()) / "report.json"
    cmd = [sys.executable, str(ROOT / "tests" / "integration" / "link_peer.py")]
    cmd += ["--report", str(report_path), "--bpm", str(args.bpm), "--tempos", args.tempos]
    cmd += ["--bars", str(args.bars), "--hold-bars", str(args.hold_bars)]
    xruns = XrunTimes(XrunWatch(server))
    env = {**server.env, "PYTHONPATH": str(ROOT)}
    loads = []
    proc = subprocess.Popen(
        in_netns(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    while proc.poll() is None:
        loads.append(os.getloadavg()[0])
        time.sleep(1.0)
    _, err = proc.communicate()
    xruns.stop()
    if proc.returncode != 0:
        raise SystemExit(f"link_sync: the peer failed: {err[-2000:]}")
    return json.loads(report_path.read_text()), xruns, float(np.mean(loads)) if loads else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=500)
    ap.add_argument("--bpm", type=float, default=600.0, help="start, end and downbeat tempo")
    ap.add_argument("--tempos", default=TEMPOS, help="the peer's tempo changes, in order")
    ap.add_argument("--hold-bars", type=float, default=4.0)
    ap.add_argument(
        "--tolerance", type=float, default=0.002, help="seconds either side of JACK's delivery"
    )
    ap.add_argument(
        "--jack-not-realtime",
        action="store_true",
        help="jackd without real-time scheduling (it has it where permitted): its dummy "
        "driver, starved on a loaded machine, delays and bunches MIDI, swamping livegen's own "
        "figures",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "link_sync.json"))
    args = ap.parse_args()
    reason = netns_unavailable()
    if reason:
        raise SystemExit(f"link_sync: {reason}")
    before = machine()
    realtime = False if args.jack_not_realtime else None  # None: where permitted
    server = start_dummy_jack(rate=JACK_RATE, period=JACK_PERIOD, realtime=realtime)
    try:
        report, xruns, load = run_peer(args, server)
        xrun_lines = [line for line in server.log().splitlines() if "xrun" in line.lower()]
    finally:
        server.stop()
    delivery = JACK_PERIOD / JACK_RATE
    fig = analyse(report, tolerance=args.tolerance, delivery=delivery)
    script = report["script"]
    sets = script["tempo_set"]
    for i, f in enumerate(fig["follows"], 1):
        end = sets[i + 1][0] if i + 1 < len(sets) else script["play"][0]
        f["xruns"] = xruns.between(sets[i][0], end)
    follow = [f["beats_to_follow"] for f in fig["follows"] if f["measurable"]]
    late = [line for line in report["livegen_output"].splitlines() if "late ticks" in line]
    result = {
        "machine": before,
        "load_avg_1min_during": round(load, 2),
        "bpm": args.bpm,
        "tempos": [s[1] for s in sets],
        "hold_bars": args.hold_bars,
        "jack_period_ms": delivery * 1000,
        "jack_realtime": "-R" in server.proc.args,
        "on_grid_window_ms": [-args.tolerance * 1000, (delivery + args.tolerance) * 1000],
        "tempo_changes": fig["follows"],
        "beats_to_follow_max": None if None in follow else max(follow),
        "measurable_changes": len(follow),
        "followed_within_one_beat": sum(1 for b in follow if b is not None and b <= 1.0),
        "tempo_pulses": fig["tempo_gaps"],
        "downbeats": len(fig["downbeat_offsets_s"]),
        "downbeats_missing": fig["downbeats_missing"],
        "downbeat_offset_ms": percentiles(fig["downbeat_offsets_s"]),
        "tick_offset_ms": percentiles(fig["grid_offsets_s"]),
        "bar_pulses": fig["bar_gaps"],
        "xruns": len(xruns.stamps),
        "xruns_in_tempo_changes": xruns.between(sets[0][0], script["play"][0]),
        "xruns_in_bars": xruns.between(script["bars_from"], script["stop"][0]),
        "xrun_log_sample": xrun_lines[:3],
        "start": fig["start"],
        "stop_after_s": fig["stop_after_s"],
        "livegen_lines": late,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print_result(result)
    print(f"saved {args.out}")
    return 0


def print_result(r: dict) -> None:
    lo, hi = r["on_grid_window_ms"]
    print(
        f"Link sync, JACK {r['jack_period_ms']:.2f} ms"
        f"{' real-time' if r['jack_realtime'] else ''}, "
        f"on the grid: {lo:+.2f}..{hi:+.2f} ms; "
        f"load {r['machine']['load_avg_1min']} before, {r['load_avg_1min_during']} during"
    )
    print(
        "  change       beats to follow  (resolution)  off before  worst in 1st beat  on grid"
        "  lost  xruns"
    )
    for f in r["tempo_changes"]:
        b = "never" if f["beats_to_follow"] is None else f"{f['beats_to_follow']:.3f}"
        b += "" if f["measurable"] else " (n/m)"
        w = f["first_beat_max_ms"]
        print(
            f"  {f['from']:5.0f}->{f['tempo']:<5.0f} {b:>16}  {f['resolution_beats']:12.3f}  "
            f"{f['off_grid_before']:>10}  "
            f"{'-' if w is None else f'{w:.2f} ms':>17}  {f['on_grid']:7.1%}  "
            f"{f['lost']:>4}  {f['xruns']:>5}"
        )
    print(
        f"  followed within one beat: {r['followed_within_one_beat']} of "
        f"{r['measurable_changes']} measurable changes (n/m: a pulse at that tempo is "
        "narrower than the window)"
    )
    t = r["tempo_pulses"]
    print(
        f"  tempo section: {t['pulses']} pulses, {t['lost']} lost, {t['bunched']} bunched; "
        f"{r['xruns_in_tempo_changes']} xruns"
    )
    d = r["downbeat_offset_ms"]
    print(
        f"  downbeats: {r['downbeats']} at {r['bpm']:g} BPM, offset p50 {d['p50']:.2f} ms, "
        f"|offset| p99 {d['p99_abs']:.2f} ms, max {d['max_abs']:.2f} ms (goal p99 <= 2 ms); "
        f"{r['downbeats_missing']} bars with no pulse on the line"
    )
    g = r["bar_pulses"]
    print(
        f"  bars section: {g['pulses']} pulses, {g['lost']} lost, {g['bunched']} bunched; "
        f"{r['xruns_in_bars']} xruns; {r['xruns']} xruns in all"
    )
    t = r["tick_offset_ms"]
    print(f"  every tick: offset p50 {t['p50']:.2f} ms, |offset| p99 {t['p99_abs']:.2f} ms")
    for line in r["livegen_lines"]:
        print(f"  livegen: {line.strip()}")


if __name__ == "__main__":
    sys.exit(main())
