"""Does a flood of bad OSC delay the engine? Late ticks and step latency, flooded vs quiet.

The OSC listener parses in a process of its own (livegen/osc/receiver.py) and forwards
only commands to the engine's process: parsing there, in a thread beside the tick thread,
cost the tick its GIL (step p99 1.99x and 4 late ticks in 500 under this flood;
bench/results/osc_flood_in_thread.json, measured at commit 7f3ed2a). The same session
(the shipped folk_melody model in free mode, so it steps and samples at every tick;
virtual ports on a private ``jackd -d dummy``; ``--osc`` on 127.0.0.1) runs ``--ticks``
ticks twice, in the engine's own process as under the panel:

- ``quiet``: the listener is open and nothing is sent to it;
- ``flood``: a separate process sends ``--rate`` malformed datagrams a second for the
  whole run: a quarter random bytes, and three quarters addressed to ``/livegen/...``
  with broken arguments (out of range, a string for a number, no such address), which
  python-osc must parse in full before they can be refused: the costly kind.

Figures are the engine's own: late ticks (sent more than 2 ms after the deadline) over the
whole run, the step's p50/p99 over its last 512 steps, ``p99_worst`` the highest p99 read
during the run (snapshots every 0.25 s); and the OSC counts the snapshot shows, to check
the listener kept up (ignored vs sent). The flooding process takes part of the other core.

    .venv/bin/python bench/osc_flood.py               # 2 x 3,200 ticks at 400 BPM: ~4 min
    .venv/bin/python bench/osc_flood.py --ticks 1000  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.panel_load import READ_EVERY, Reading  # noqa: E402
from bench.step_latency import machine  # noqa: E402
from livegen.client import EngineClient  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from livegen.live_config import LiveConfig  # noqa: E402

BATCH_EVERY = 0.005  # the sender sends a batch this often, to hold its rate without spinning


def broken_datagrams(rng: random.Random, n: int) -> list[bytes]:
    from pythonosc.osc_message_builder import build_msg

    costly = [
        build_msg("/livegen/temperature", 99.0).dgram,
        build_msg("/livegen/bpm", "fast").dgram,
        build_msg("/livegen/no_such_control", 1.0).dgram,
    ]
    return [rng.randbytes(rng.randrange(1, 64)) if k % 4 == 0 else costly[k % 3] for k in range(n)]


def send_flood(port: int, rate: float) -> None:
    """The flooding process: ``rate`` datagrams a second to ``port`` until killed."""
    rng = random.Random(5)
    pool = broken_datagrams(rng, 4096)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    per_batch = max(1, round(rate * BATCH_EVERY))
    start, k, sent = time.perf_counter(), 0, 0
    while True:
        k += 1
        for _ in range(per_batch):
            sock.sendto(pool[sent % len(pool)], ("127.0.0.1", port))
            sent += 1
        delay = start + k * BATCH_EVERY - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(condition: str, ticks: int, bpm: float, rate: float) -> dict:
    port = free_port()
    cfg = LiveConfig(
        checkpoint="folk_melody", backend="jack", device="cpu", mode="free", bpm=bpm, seed=1,
        osc=port,
    )  # fmt: skip
    engine, reading = EngineClient.open(cfg), Reading()
    sender = None
    try:
        engine.start()
        if condition == "flood":
            sender = subprocess.Popen(
                [sys.executable, __file__, "--send-to", str(port), "--rate", str(rate)]
            )
        t0 = time.monotonic()
        while engine.snapshot().tick + 1 < ticks and engine.running:
            engine.wait(READ_EVERY)
            reading.read(engine.snapshot())
        reading.read(engine.snapshot())
        wall = time.monotonic() - t0
    finally:
        if sender is not None:
            sender.kill()
            sender.wait()
        engine.close()
    snap = reading.last
    ignored = sum(n for _, n in snap.osc_ignored)
    return reading.row(condition, wall) | {
        "osc_ignored": dict(snap.osc_ignored),
        "osc_ignored_per_s": round(ignored / wall),
        "flood_rate_per_s": rate if condition == "flood" else 0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=3200)
    ap.add_argument("--bpm", type=float, default=400.0, help="16th-note ticks at this tempo")
    ap.add_argument("--rate", type=float, default=10_000.0, help="bad datagrams a second")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "osc_flood.json")
    ap.add_argument("--send-to", type=int, help=argparse.SUPPRESS)  # the flooding process
    args = ap.parse_args()
    if args.send_to is not None:
        send_flood(args.send_to, args.rate)
        return
    server = start_dummy_jack()
    os.environ.update(server.env)  # the engine's process (spawned) opens its ports there
    rows = []
    try:
        for condition in ("quiet", "flood"):
            rows.append(run(condition, args.ticks, args.bpm, args.rate))
            r = rows[-1]
            print(
                f"{r['condition']:>6}: {r['ticks']} ticks in {r['seconds']} s, late ticks "
                f"{r['late_ticks']}, step p50 {r['step_p50_us'] / 1000:.2f} ms p99 "
                f"{r['step_p99_us'] / 1000:.2f} ms (worst read {r['step_p99_worst_us'] / 1000:.2f}"
                f" ms), OSC ignored {r['osc_ignored_per_s']}/s"
                f"{'; error: ' + r['error'] if r['error'] else ''}",
                flush=True,
            )
    finally:
        server.stop()
    quiet, flood = rows
    ratio = {
        key: round(flood[key] / quiet[key], 2) if quiet[key] else None
        for key in ("step_p50_us", "step_p99_us", "step_p99_worst_us")
    }
    print(
        f" ratio: flood / quiet step p50 {ratio['step_p50_us']}, p99 {ratio['step_p99_us']}, "
        f"worst p99 {ratio['step_p99_worst_us']}; late ticks {flood['late_ticks']} vs "
        f"{quiet['late_ticks']}; the listener refused {flood['osc_ignored_per_s']} of "
        f"{args.rate:g} a second"
    )
    command = f"python bench/osc_flood.py --ticks {args.ticks} --bpm {args.bpm:g}"
    result = {
        "benchmark": "osc_flood",
        "command": command + (f" --rate {args.rate:g}" if args.rate != 10_000 else ""),
        "tick_period_ms": 60_000 / (args.bpm * 4),
        "receiver": "a process of its own, forwarding commands (livegen/osc/receiver.py)",
        "machine": machine(),
        "results": rows,
        "ratio_flood_over_quiet": ratio,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
