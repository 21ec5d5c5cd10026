"""The cost of one tick of a parts model: hear your half, sample mine of the same tick.

``PartsPlayer.step_parts`` feeds your part of tick n (teacher forced, then MID) and samples
livegen's part of tick n on a fork, which it adopts: all of it between a tick's arrival and
its notes going out. This times that call against the single-stream ``Player.step`` (hear
tick n, plan tick n + 1) with the ``poly`` codec, both 2 x 256 LSTMs (the shipped size,
random weights: parts models are not shipped yet) on one CPU thread, back to back, fed the
same melody (a quarter note every 4 ticks). The parts codec is shaped like chorale_harmony
(you: a soprano; livegen: at most 3 lower voices). Figures are per tick, with the model
steps per tick, since a random model's answers are longer or shorter than a trained one's.
Writes bench/results/parts_step.json. About 30 s.

    .venv/bin/python bench/parts_step.py [--ticks 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from step_latency import machine  # noqa: E402

from livegen.codecs import PartsCodec, make_codec  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.notes import EMPTY_TICK, Tick  # noqa: E402
from livegen.parts_player import PartsPlayer  # noqa: E402
from livegen.player import Player  # noqa: E402
from livegen.sampling import Sampler  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402

MELODY = [72, 74, 76, 77, 79, 77, 76, 74]
HARMONY = dict(
    yours="soprano", mine="alto+tenor+bass", yours_low=60, yours_high=81,
    mine_low=36, mine_high=72, yours_max_notes=1, mine_max_notes=3,
)  # fmt: skip


def melody(n_ticks: int) -> list[Tick]:
    out = []
    for n in range(n_ticks):
        if n % 4:
            out.append(EMPTY_TICK)
            continue
        p, last = MELODY[n // 4 % len(MELODY)], MELODY[(n // 4 - 1) % len(MELODY)]
        out.append(Tick(offs=(last,) if n else (), ons=((p, 90),)))
    return out


class Counting:
    """The player's stepper, counting model steps."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, x, state):
        self.calls += 1
        return self.inner(x, state)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def run(player, step, ticks: list[Tick]) -> dict:
    counter = Counting(player.stepper)
    player.stepper = counter
    times, steps = [], []
    with torch.no_grad():
        for tick in ticks:
            counter.calls = 0
            t0 = time.perf_counter()
            step(tick)
            times.append(time.perf_counter() - t0)
            steps.append(counter.calls)
    ms = np.array(times[100:]) * 1e3  # the first ticks warm caches
    per_step_us = ms * 1e3 / np.maximum(steps[100:], 1)
    return {
        "ticks": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "max_ms": round(float(ms.max()), 4),
        "model_steps_per_tick": round(float(np.mean(steps[100:])), 2),
        "us_per_model_step_p50": round(float(np.percentile(per_step_us, 50)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "parts_step.json")
    args = ap.parse_args()
    limit_threads(1)  # the live step runs on one core
    ticks = melody(args.ticks)
    rows = {}
    for name, codec in (("parts", PartsCodec(**HARMONY)), ("poly", make_codec("poly"))):
        torch.manual_seed(0)
        cfg = ModelConfig(vocab_size=codec.vocab_size, n_layer=2, n_hidden=256, n_embd=64)
        model = LSTMModel(cfg).eval()
        sampler = Sampler(temperature=1.0, seed=1)
        if name == "parts":
            player = PartsPlayer(model, codec, sampler)
            rows[name] = run(player, lambda t, p=player: p.step_parts(t, play=True), ticks)
        else:
            player = Player(model, codec, sampler)
            rows[name] = run(player, lambda t, p=player: p.step(t, play=True), ticks)
        rows[name]["step_path"] = type(player.stepper.inner).__name__
        print(f"{name:6s} " + "  ".join(f"{k} {v}" for k, v in rows[name].items()))
    args.out.write_text(json.dumps({"machine": machine(), "results": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
