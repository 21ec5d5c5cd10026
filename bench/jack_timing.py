"""Output timing through a real JACK server while the model steps: send jitter and delivery.

The live engine runs the shipped folk_melody model in free mode (it steps and samples at
every tick) with MIDI clock output on, at 10 ms per tick, for ``--ticks`` ticks, on a
private ``jackd -d dummy`` server (48 kHz, 256-frame periods: 5.33 ms). Every message
it sends is stamped at the send call; a separate process (bench/midi_sink.py) stamps
its arrival. Clock pulses fall on fixed deadlines (6 per tick), so:

- send jitter = send time - the message's deadline (notes and a tick's first pulse are
  due at the tick's deadline, the other pulses at their sixth of a tick);
- delivery = arrival at the other process - send time (JACK hands MIDI over once per
  period, so it is bounded by the period plus scheduling);
- lost = sent - received; late ticks as counted by the engine (sent > 2 ms late).

Two conditions in one run: idle, and with the other core busy (a spinning process).
The engine asks for SCHED_FIFO; the JSON records whether the OS granted it.

    .venv/bin/python bench/jack_timing.py                 # 2 x 10,000 ticks, ~4 minutes
    .venv/bin/python bench/jack_timing.py --ticks 1000    # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen import checkpoint  # noqa: E402
from livegen.engine import Engine  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from livegen.live_config import LiveConfig  # noqa: E402
from livegen.midi_io import open_ports  # noqa: E402
from livegen.paths import default_primer  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402

PERIOD_S = 0.010  # seconds per tick: 1500 BPM at 4 ticks per quarter, to get many ticks
JACK_RATE, JACK_PERIOD = 48000, 256


def run_condition(loaded, ticks: int, busy: bool, server) -> dict:
    spinner = None
    if busy:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    ports = open_ports(backend="jack")
    sent: list[tuple[float, int]] = []
    real_send = ports.send

    def send(msg, _stamp=time.perf_counter):
        t = _stamp()
        real_send(msg)
        sent.append((t, msg.bytes()[0]))

    ports.send = send
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "midi_sink.py"), "--source", "livegen out"]
        + ["--out", out],
        env=server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout.readline().strip() == "ready", "the sink process did not start"
    cfg = LiveConfig(mode="free", seed=1, clock_out=True, bpm=400, temperature=1.0)
    engine = Engine(loaded, ports, cfg, primer=_primer())
    engine.clock.set_tempo(60.0 / (PERIOD_S * engine.tpq))  # beyond the UI's range: a test rig
    try:
        engine.start()
        while engine.running and engine.n < ticks:
            time.sleep(0.1)
    finally:
        engine.close()
        sink.stdin.close()
        sink.wait(20)
        ports.close()
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    received = json.loads(Path(out).read_text())
    os.unlink(out)
    s = engine.snapshot()
    clock = engine.clock
    pulse = clock.period / 6
    sends = np.array([t for t, _ in sent])
    status = np.array([b for _, b in sent])
    # Each message's deadline: the pulse slot it falls in (notes sit on slot 0 of a tick).
    slot = np.round((sends - clock.deadline(0)) / pulse)
    jitter = (sends - (clock.deadline(0) + slot * pulse)) * 1e6
    steady = sends > clock.deadline(0)  # Start goes out before tick 0
    n = min(len(sent), len(received))
    delivery = (np.array([t for t, _ in received[:n]]) - sends[:n]) * 1e3
    same_order = bool(np.all(np.array([b for _, b in received[:n]]) == status[:n]))
    notes = int(np.sum((status & 0xF0) == 0x90))
    return {
        "condition": "other core busy" if busy else "idle",
        "ticks": s.tick + 1,
        "messages_sent": len(sent),
        "note_ons_sent": notes,
        "messages_received": len(received),
        "lost": len(sent) - len(received),
        "order_kept": same_order,
        "late_ticks": s.late_ticks,
        "open_notes_at_end": len(s.open_notes),
        "realtime": next((x for x in s.notices if x.startswith("real-time")), "not asked"),
        "send_jitter_us": _stats(np.abs(jitter[steady])),
        "delivery_ms": _stats(delivery),
        "step_p50_us": round(s.step_p50_us, 1),
        "step_p99_us": round(s.step_p99_us, 1),
    }


def _primer():
    from livegen.midifile import read_midi

    return read_midi(default_primer("melody")).notes


def _stats(a: np.ndarray) -> dict:
    if len(a) == 0:
        return {}
    p = np.percentile(a, [50, 99, 99.9])
    return {
        "p50": round(float(p[0]), 2),
        "p99": round(float(p[1]), 2),
        "p99.9": round(float(p[2]), 2),
        "max": round(float(a.max()), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "jack_timing.json")
    args = ap.parse_args()
    limit_threads(1)  # as on the live path: the step runs on one core
    loaded = checkpoint.load(checkpoint.resolve("folk_melody"))
    server = start_dummy_jack(rate=JACK_RATE, period=JACK_PERIOD)
    rows = []
    try:
        for busy in (False, True):
            rows.append(run_condition(loaded, args.ticks, busy, server))
            r = rows[-1]
            print(
                f"{r['condition']:>16}: {r['ticks']} ticks, sent {r['messages_sent']} "
                f"({r['note_ons_sent']} note-ons), lost {r['lost']}, late ticks "
                f"{r['late_ticks']}, send jitter us {r['send_jitter_us']}, delivery ms "
                f"{r['delivery_ms']}, step p50/p99 {r['step_p50_us']}/{r['step_p99_us']} us; "
                f"{r['realtime']}"
            )
    finally:
        server.stop()
    result = {
        "benchmark": "jack_timing",
        "command": f"python bench/jack_timing.py --ticks {args.ticks}",
        "tick_period_ms": PERIOD_S * 1000,
        "jack": {"rate": JACK_RATE, "period": JACK_PERIOD, "period_ms": JACK_PERIOD / 48},
        "machine": machine(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
