"""The cost of the harmonize table: livegen's part of the next tick planned for every yours.

In ``harmonize`` mode the engine plans, right after each tick's step, my half of the next
tick for each pitch of your part's range struck, your note held and silence (B = range + 2
rows, livegen/harmonize.py), in one batched step of the model itself. That work is on the
tick thread between a tick and the next, so it must stay well inside a tick (125 ms at 120
BPM on a 16th grid) and it delays input handled meanwhile (pass-through and a harmony alike).
This times ``plan`` per tick over a melody (a quarter note every 4 ticks), for a parts codec
shaped like chorale_harmony (yours 60..81 mono; mine 36..72, 3 voices), with a 2 x 256 LSTM
(the shipped size; random weights) and a tiny 2 x 24 one, on one CPU thread, next to the
plain ``step_parts`` of the same tick, with the sampling guards off and on (``--guards``).
Writes bench/results/harmonize_table.json. About 2 minutes.

    .venv/bin/python bench/harmonize_table.py [--ticks 1500]
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

from parts_step import HARMONY, melody  # noqa: E402
from step_latency import machine  # noqa: E402

from livegen.codecs import PartsCodec  # noqa: E402
from livegen.harmonize import plan  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.parts_player import PartsPlayer  # noqa: E402
from livegen.sampling import Sampler  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from livegen.voice_guards import guards_for  # noqa: E402


def figures(seconds: list[float]) -> dict:
    ms = np.array(seconds[50:]) * 1e3  # the first ticks warm caches
    return {
        "ticks": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def run(hidden: int, n_ticks: int, guards: bool = True) -> dict:
    codec = PartsCodec(**HARMONY)
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=codec.vocab_size, n_layer=2, n_hidden=hidden, n_embd=64)
    player = PartsPlayer(LSTMModel(cfg).eval(), codec, Sampler(temperature=1.0, seed=1))
    player.set_guards(guards_for(guards))  # the sampling guards' masks (on by default live)
    steps, plans, rows = [], [], 0
    with torch.inference_mode():
        for n, tick in enumerate(melody(n_ticks)):
            t0 = time.perf_counter()
            player.step_parts(tick, play=True, tick=n)
            t1 = time.perf_counter()
            table = plan(player, n + 1)
            t2 = time.perf_counter()
            steps.append(t1 - t0)
            plans.append(t2 - t1)
            rows = len(table.rows)
    return {
        "model": f"2 x {hidden}",
        "guards": guards,
        "rows": rows,
        "table": figures(plans),
        "step_parts": figures(steps),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1500)
    ap.add_argument(
        "--guards", choices=("on", "off", "both"), default="both", help="the sampling guards"
    )
    out = ROOT / "bench" / "results" / "harmonize_table.json"
    ap.add_argument("--out", type=Path, default=out)
    args = ap.parse_args()
    limit_threads(1)  # the live step runs on one core
    results = []
    guarded = {"on": (True,), "off": (False,), "both": (False, True)}[args.guards]
    for hidden in (256, 24):
        for guards in guarded:
            row = run(hidden, args.ticks, guards)
            results.append(row)
            t, s = row["table"], row["step_parts"]
            print(
                f"{row['model']:8s} guards {'on ' if guards else 'off'} B={row['rows']}  "
                f"table p50 {t['p50_ms']} ms  p99 {t['p99_ms']} ms"
                f"  max {t['max_ms']} ms   step_parts p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms"
            )
    args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
