"""What metric input costs the live step: the fused CPU step with and without it.

For each shipped model's sizes, the same random weights are stepped by
:class:`~livegen.steppers.fused.FusedStep` built without metric input and with it
(beat and sub-beat one-hots at layer 0, added as one precomputed row of the input
projection per step: livegen/metric.py). Both are timed in the same run, paced like
ticks (back to back and every 10 ms, when the weights fall out of cache between
steps), in alternating blocks so machine noise hits them alike, on one thread.

    .venv/bin/python bench/metric_step.py            # about a minute
    .venv/bin/python bench/metric_step.py --quick    # about 15 seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine, percentiles, time_block  # noqa: E402
from livegen.codecs import make_codec  # noqa: E402
from livegen.metric import MAX_BEATS  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.steppers.fused import FusedStep  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402

SIZES = (  # (name, codec, n_layer, n_hidden, n_embd): the shipped models' shapes
    ("folk_melody 2x256", "melody", 2, 256, 64),
    ("chorale_poly 2x256", "poly", 2, 256, 64),
    ("performance 3x512", "performance", 3, 512, 64),
)


def stepper(codec_name: str, n_layer: int, n_hidden: int, n_embd: int, metric: bool):
    codec = make_codec(codec_name)
    torch.manual_seed(0)
    cfg = ModelConfig(
        codec.vocab_size,
        n_layer=n_layer,
        n_hidden=n_hidden,
        n_embd=n_embd,
        metric=metric,
        metric_tpq=codec.ticks_per_quarter,
    )
    step = FusedStep(LSTMModel(cfg).eval())
    state = step.new_state()
    n_pos = MAX_BEATS * codec.ticks_per_quarter
    counter = iter(range(10**12))

    def call(token: int) -> None:
        step(token, state, next(counter) % n_pos)  # positions walk the bar as ticks do

    return call, codec.vocab_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few steps: a smoke run")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "metric_step.json")
    args = ap.parse_args()
    limit_threads(1)
    plan = {0.0: (400, 8), 0.010: (100, 6)}
    if args.quick:
        plan = {0.0: (100, 3), 0.010: (30, 2)}
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'model':>22} {'pace':>6} {'metric':>7} {'p50 us':>8} {'p99 us':>8} {'p50 ratio':>10}")
    for name, codec_name, n_layer, n_hidden, n_embd in SIZES:
        fns = {m: stepper(codec_name, n_layer, n_hidden, n_embd, m) for m in (False, True)}
        V = fns[False][1]
        for fn, _ in fns.values():  # warm-up
            for tok in rng.integers(0, V, 50).tolist():
                fn(tok)
        for pace, (steps, blocks) in plan.items():
            us: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(blocks):
                for m, (fn, _) in fns.items():
                    us[m] += time_block(fn, rng.integers(0, V, steps).tolist(), pace)
            base = np.percentile(us[False], 50)
            for m in (False, True):
                stats = percentiles(us[m])
                ratio = round(stats["p50_us"] / base, 3)
                rows.append({"model": name, "pace_ms": pace * 1000, "metric": m, **stats,
                             "p50_vs_no_metric": ratio})  # fmt: skip
                pace_text = "b2b" if pace == 0 else f"{pace * 1000:.0f} ms"
                print(
                    f"{name:>22} {pace_text:>6} {str(m):>7} {stats['p50_us']:>8.1f} "
                    f"{stats['p99_us']:>8.1f} {ratio:>10.3f}"
                )
    result = {
        "benchmark": "metric_step",
        "command": "python bench/metric_step.py" + (" --quick" if args.quick else ""),
        "machine": {**machine(), "load_avg_1min_before": round(load_before, 2)},
        "steps": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
