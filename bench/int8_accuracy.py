"""How much the int8 step costs in accuracy, on the trained models' validation pieces.

Steps every validation piece of each shipped model token by token (the live path, from
zero state per piece) with the fp32 fused step and with the int8 step, and compares the
validation NLL per token and the largest logit difference (relative to the logits'
range). Goals from the benchmarks issue: logits within 1%, validation NLL within 0.5%.
Also times both steps on a 3x512 ``performance`` model (random weights), back to back
and paced every 125 ms, alternating in blocks.

    .venv/bin/python bench/int8_accuracy.py     # about 2 minutes (parses nothing: cached)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine, percentiles, time_block  # noqa: E402
from livegen import checkpoint  # noqa: E402
from livegen.codecs import make_codec  # noqa: E402
from livegen.data import load_pieces  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.steppers.fused import FusedStep  # noqa: E402
from livegen.steppers.int8 import Int8Step  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from livegen.train import Encoded  # noqa: E402


def nll_and_error(model, sequences) -> dict:
    fp32, int8 = FusedStep(model), Int8Step(model)
    nll = {"fp32": 0.0, "int8": 0.0}
    worst, count = 0.0, 0
    for seq in sequences:
        states = {"fp32": fp32.new_state(), "int8": int8.new_state()}
        for t in range(len(seq) - 1):
            target = int(seq[t + 1])
            logits = {}
            for name, step in (("fp32", fp32), ("int8", int8)):
                out = step(int(seq[t]), states[name])
                logits[name] = out.clone()
                nll[name] -= float(torch.log_softmax(out, 0)[target])
            span = float(logits["fp32"].max() - logits["fp32"].min()) or 1.0
            worst = max(worst, float((logits["fp32"] - logits["int8"]).abs().max()) / span)
            count += 1
    out = {k: v / count for k, v in nll.items()}
    return {
        "tokens": count,
        "val_nll_fp32": round(out["fp32"], 5),
        "val_nll_int8": round(out["int8"], 5),
        "nll_change_pct": round(100 * (out["int8"] - out["fp32"]) / out["fp32"], 3),
        "max_logit_error_pct": round(100 * worst, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "int8.json")
    args = ap.parse_args()
    limit_threads(1)  # the live step runs on one core
    rows = []
    for name in ("folk_melody", "chorale_poly"):
        loaded = checkpoint.load(checkpoint.resolve(name))
        data = loaded.meta.get("data", {})
        split = load_pieces(data.get("source"), progress=False)
        seqs = Encoded(loaded.codec, split.valid, [0]).plain()
        row = {"model": name, **nll_and_error(loaded.model, seqs)}
        rows.append(row)
        print(row)
    codec = make_codec("performance")
    torch.manual_seed(0)
    big = LSTMModel(ModelConfig(codec.vocab_size, n_layer=3, n_hidden=512)).eval()
    rng = np.random.default_rng(0)
    steps = {"fp32": FusedStep(big), "int8": Int8Step(big)}
    states = {k: s.new_state() for k, s in steps.items()}
    timing = []
    for pace, n, blocks in ((0.0, 400, 5), (0.125, 16, 5)):
        us = {k: [] for k in steps}
        for _ in range(blocks):
            for k, s in steps.items():
                toks = rng.integers(0, codec.vocab_size, n).tolist()
                us[k] += time_block(lambda tok, s=s, k=k: s(tok, states[k]), toks, pace)
        for k in steps:
            timing.append({"model": "performance 3x512", "pace_ms": pace * 1000, "path": k})
            timing[-1].update(percentiles(us[k]))
            print(timing[-1])
    result = {
        "benchmark": "int8",
        "command": "python bench/int8_accuracy.py",
        "machine": machine(),
        "accuracy": rows,
        "timing": timing,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
