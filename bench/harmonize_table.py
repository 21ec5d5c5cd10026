"""The cost of the harmonize table: livegen's part of the next tick planned for every yours.

In ``harmonize`` mode livegen plans, after each tick, my half of the next tick for each
pitch of your part's range struck, your note held and silence (B = range + 2 rows,
livegen/harmonize.py): 37 rows for the shipped chorale_harmony (2 x 256, yours 52..86).
This times, in one run on one CPU thread, side by side:

- one batched token step of B rows: the model's own ``nn.LSTM`` step (the build before
  livegen/steppers/batch.py), the batch step, its shared first step, and the GEMM floor
  (the same matrix products alone, on preallocated buffers);
- the whole table per tick over a melody (a quarter note every 4 ticks): the reference
  build (tests/reference_table.py, nn.LSTM) and the fast one (``Planner.plan``), in
  alternating order each tick from the same state and the same draws (the rows they plan
  are compared: they must agree), next to the plain ``step_parts`` of the tick.

Writes bench/results/harmonize_table.json with the 1-minute load average at the start and
the end (the machine is shared). About a minute.

    .venv/bin/python bench/harmonize_table.py [--model chorale_harmony] [--guards on|off]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from parts_step import melody  # noqa: E402
from step_latency import machine  # noqa: E402

from livegen.checkpoint import load, resolve  # noqa: E402
from livegen.harmonize import Planner  # noqa: E402
from livegen.model import State  # noqa: E402
from livegen.parts_player import PartsPlayer  # noqa: E402
from livegen.sampling import Sampler  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from tests.reference_table import reference_plan  # noqa: E402


def figures(seconds: list[float], skip: int = 20) -> dict:
    ms = np.array(seconds[skip:]) * 1e3  # the first ones warm caches
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def timed(f, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return out


def token_steps(player: PartsPlayer, planner: Planner, n: int) -> dict:
    """One batched token step of B rows, four ways (module docstring)."""
    model, step = player.model, planner.step
    B, H, V, L = step.rows, step.n_hidden, step.vocab_size, step.n_layer
    tokens = torch.arange(B) % V  # (B,)
    pos = torch.zeros(B, dtype=torch.long)  # (B,)
    h0, c0 = player.state
    step.load(player.state, B)

    def lstm() -> None:
        h = h0.expand(-1, B, -1).contiguous()  # (L, B, H): what the reference did per call
        c = c0.expand(-1, B, -1).contiguous()
        model.step(tokens, State(h, c), pos if model.cfg.metric else None)

    x, g = torch.rand(B, H), torch.empty(B, 4 * H)  # (B, H), (B, 4H)
    xh, w_h, w_xh = torch.rand(B, 2 * H), torch.rand(H, 4 * H), torch.rand(2 * H, 4 * H)
    w_head, out = torch.rand(H, V), torch.empty(B, V)

    def gemms() -> None:  # layer 0 recurrent, each layer above on [x, h], the head
        torch.mm(x, w_h, out=g)
        for _ in range(L - 1):
            torch.mm(xh, w_xh, out=g)
        torch.mm(x, w_head, out=out)

    ways = {
        "nn.LSTM step (before)": lstm,
        "batch step": lambda: step.step(tokens, None, 0),
        "batch step, shared first": lambda: step.step(tokens, None, 0, shared=True),
        "GEMM floor": gemms,
    }
    for f in ways.values():  # warm
        timed(f, 20)
    times: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(n // 50):  # alternating blocks: the same load for each
        for k, f in ways.items():
            times[k] += timed(f, 50)
    return {k: figures(v, skip=0) for k, v in times.items()}


def tables(player: PartsPlayer, planner: Planner, n_ticks: int) -> dict:
    """The whole table per tick, reference and fast from the same state and draws."""
    sampler = player.sampler
    before, after, steps, differ, rows = [], [], [], 0, 0
    for n, tick in enumerate(melody(n_ticks)):
        t0 = time.perf_counter()
        player.step_parts(tick, play=True, tick=n)
        steps.append(time.perf_counter() - t0)
        seed = n + 1
        built = {}
        for name in ("reference", "fast") if n % 2 else ("fast", "reference"):
            sampler.reseed(seed)  # the same draws for both
            t0 = time.perf_counter()
            built[name] = (reference_plan(player, n + 1) if name == "reference"
                           else planner.plan(n + 1))  # fmt: skip
            (before if name == "reference" else after).append(time.perf_counter() - t0)
        a, b = built["fast"].rows, built["reference"].rows
        differ += sum(x.mine != y.mine or x.usable != y.usable for x, y in zip(a, b, strict=True))
        rows = len(a)
    b, f = figures(before), figures(after)
    return {
        "rows": rows,
        "reference_table": b,
        "fast_table": f,
        "p50_ratio_fast_over_reference": round(f["p50_ms"] / b["p50_ms"], 3),
        "p99_ratio_fast_over_reference": round(f["p99_ms"] / b["p99_ms"], 3),
        "rows_that_differ": differ,
        "step_parts": figures(steps),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="chorale_harmony", help="a parts model: name or path")
    ap.add_argument("--ticks", type=int, default=600)
    ap.add_argument("--steps", type=int, default=1000, help="token steps timed per way")
    ap.add_argument("--guards", choices=("on", "off"), default="on", help="sampling guards")
    out = ROOT / "bench" / "results" / "harmonize_table.json"
    ap.add_argument("--out", type=Path, default=out)
    args = ap.parse_args()
    limit_threads(1)  # the live step runs on one core
    load_start = os.getloadavg()[0]
    loaded = load(resolve(args.model))
    player = PartsPlayer(loaded.model.eval(), loaded.codec, Sampler(temperature=1.0, seed=1))
    if args.guards == "off":
        player.set_guards(None)
    with torch.inference_mode():
        planner = Planner(player)
        table = tables(player, planner, args.ticks)
        steps = token_steps(player, planner, args.steps)
    result = {
        "model": loaded.path.stem,
        "shape": f"{loaded.model.cfg.n_layer} x {loaded.model.cfg.n_hidden}",
        "guards": args.guards,
        "load_1min_start": round(load_start, 2),
        "load_1min_end": round(os.getloadavg()[0], 2),
        "token_step_B_rows": steps,
        **table,
    }
    print(f"{result['model']} ({result['shape']}), B = {table['rows']} rows, one thread, "
          f"load {result['load_1min_start']} -> {result['load_1min_end']}")  # fmt: skip
    for k, v in steps.items():
        print(f"  token step {k:26s} p50 {v['p50_ms']:.3f} ms  p99 {v['p99_ms']:.3f} ms")
    for k in ("reference_table", "fast_table", "step_parts"):
        v = table[k]
        print(f"  {k:16s} p50 {v['p50_ms']:.2f} ms  p99 {v['p99_ms']:.2f} ms  max {v['max_ms']}")
    print(f"  fast / reference: p50 {table['p50_ratio_fast_over_reference']}, "
          f"p99 {table['p99_ratio_fast_over_reference']}; rows that differ: "
          f"{table['rows_that_differ']}")  # fmt: skip
    args.out.write_text(json.dumps({"machine": machine(), "results": [result]}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
