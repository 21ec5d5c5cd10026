"""Ableton Link sync: how fast livegen follows a peer's tempo, how close its downbeats fall.

A second Link peer in its own process (tests/integration/link_peer.py) runs
``livegen run --clock link --clock-out`` and reads livegen's MIDI clock on a private
``jackd -d dummy`` server with 64-frame periods (1.33 ms at 48 kHz, so JACK's delivery
adds at most that), everything inside a private network namespace with only loopback
(no Link packet leaves the machine). The peer stamps each message with ``perf_counter``
and its own Link beat on arrival, and measures:

- after each of its tempo changes, beats until livegen's ticks are on the new grid (four
  ticks in a row within ``--tolerance`` of the peer's tick lines);
- livegen's downbeats (its pulse nearest each of the peer's bar lines, found by the peer's
  beat, not by counting, as an xrun may lose a pulse) against the peer's own bar line,
  over ``--bars`` bars at a fast tempo to keep the run short (600 BPM, 4 beats a bar:
  0.4 s a bar).

Offsets are arrival minus the peer's bar time, so they include JACK's delivery.

    .venv/bin/python bench/link_sync.py                    # 500 bars at 600 BPM, ~4 minutes
    .venv/bin/python bench/link_sync.py --bars 50          # quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from tests.integration.link_peer import analyse  # noqa: E402
from tests.integration.netns import in_netns, netns_unavailable  # noqa: E402

JACK_RATE, JACK_PERIOD = 48000, 64


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=500)
    ap.add_argument("--bpm", type=float, default=600.0)
    ap.add_argument("--bpm2", type=float, default=540.0)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--tolerance", type=float, default=0.002, help="seconds, for 'followed'")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "link_sync.json"))
    args = ap.parse_args()
    reason = netns_unavailable()
    if reason:
        raise SystemExit(f"link_sync: {reason}")
    server = start_dummy_jack(rate=JACK_RATE, period=JACK_PERIOD)
    report_path = Path(tempfile.mkdtemp()) / "report.json"
    cmd = [sys.executable, str(ROOT / "tests" / "integration" / "link_peer.py")]
    cmd += ["--report", str(report_path), "--bpm", str(args.bpm), "--bpm2", str(args.bpm2)]
    cmd += ["--changes", str(args.changes), "--bars", str(args.bars), "--hold-bars", "4"]
    try:
        done = subprocess.run(in_netns(cmd), env=server.env, capture_output=True, text=True)
    finally:
        server.stop()
    if done.returncode != 0:
        raise SystemExit(f"link_sync: the peer failed: {done.stderr[-2000:]}")
    report = json.loads(report_path.read_text())
    fig = analyse(report, tolerance=args.tolerance)
    bars = np.array(fig["downbeat_offsets_s"]) * 1000
    grid = np.array(fig["grid_offsets_s"]) * 1000
    follow = [f["beats_to_follow"] for f in fig["follows"]]
    period_ms = JACK_PERIOD / JACK_RATE * 1000
    late = [line for line in report["livegen_output"].splitlines() if "late ticks" in line]
    result = {
        "machine": machine(),
        "bpm": args.bpm,
        "bpm2": args.bpm2,
        "jack_period_ms": period_ms,
        "tolerance_ms": args.tolerance * 1000,
        "tempo_changes": fig["follows"],
        "beats_to_follow_max": None if None in follow else max(follow),
        "downbeats": len(bars),
        "downbeats_missing": fig["downbeats_missing"],
        "downbeat_offset_ms": {
            "p50": float(np.percentile(bars, 50)),
            "p99_abs": float(np.percentile(np.abs(bars), 99)),
            "max_abs": float(np.abs(bars).max()),
            "min": float(bars.min()),
        },
        "tick_offset_ms": {
            "p50": float(np.percentile(grid, 50)),
            "p99_abs": float(np.percentile(np.abs(grid), 99)),
        },
        "start": fig["start"],
        "stop_after_s": fig["stop_after_s"],
        "livegen_last_line": late[-1] if late else None,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(
        f"Link sync, {args.bpm:g} BPM (changes to {args.bpm2:g} and back), JACK {period_ms:.2f} ms"
    )
    print(f"  tempo changes: {len(follow)}, beats to follow: max {result['beats_to_follow_max']}")
    d = result["downbeat_offset_ms"]
    print(
        f"  downbeats: {len(bars)}, offset p50 {d['p50']:.2f} ms, |offset| p99 "
        f"{d['p99_abs']:.2f} ms, max {d['max_abs']:.2f} ms (goal p99 <= 2 ms); "
        f"{fig['downbeats_missing']} bars with no pulse (lost in JACK)"
    )
    t = result["tick_offset_ms"]
    print(f"  every tick: offset p50 {t['p50']:.2f} ms, |offset| p99 {t['p99_abs']:.2f} ms")
    print(f"  livegen: {result['livegen_last_line']}")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
