"""Step latency at batch 1 on one CPU thread: eager nn.LSTM step vs the fused CPU step.

Steps each model size back to back (after a warm-up) the way the player does, one
token per call, and prints p50/p99 in microseconds. "torch-step" is the eager path
(embedding, nn.LSTM, head; torch's default CPU kernels), "cpu-fused-fp32" is FusedStep.
Writes the figures and a machine description to bench/results/step_latency.json.
Runs in well under a minute.

    .venv/bin/python bench/step_latency.py [--steps 2000] [--vocab 128]
"""

from __future__ import annotations

import os

# One thread for every BLAS before numpy/torch load them: the live step runs on one core.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livegen.model import FusedStep, LSTMModel, ModelConfig, TorchStep  # noqa: E402

SIZES = [(1, 256), (2, 256), (2, 512), (3, 512)]  # (n_layer, n_hidden)


def time_steps(stepper, tokens: np.ndarray, warmup: int) -> np.ndarray:
    """Microseconds per call, one token per call, state carried as in live play."""
    state = stepper.new_state()
    for tok in tokens[:warmup]:
        stepper(int(tok), state)
    clock = time.perf_counter_ns
    out = np.empty(len(tokens) - warmup)
    for n, tok in enumerate(tokens[warmup:].tolist()):
        t0 = clock()
        stepper(tok, state)
        out[n] = clock() - t0
    return out / 1e3


def blas_name() -> str | None:
    try:  # numpy >= 1.26 records its build configuration
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:
        return None


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy_blas": blas_name(),
        "openblas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="timed fused steps per size")
    ap.add_argument(
        "--eager-steps", type=int, default=1000, help="timed eager steps per size (ms each)"
    )
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--vocab", type=int, default=128)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "step_latency.json")
    args = ap.parse_args()

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, args.vocab, args.warmup + max(args.steps, args.eager_steps))
    rows = []
    print(f"{'size':>6} {'path':>15} {'p50 us':>8} {'p99 us':>8}")
    for n_layer, n_hidden in SIZES:
        torch.manual_seed(0)
        model = LSTMModel(ModelConfig(args.vocab, n_layer=n_layer, n_hidden=n_hidden)).eval()
        for stepper, steps in (
            (TorchStep(model, "cpu"), args.eager_steps),
            (FusedStep(model), args.steps),
        ):
            us = time_steps(stepper, tokens[: args.warmup + steps], args.warmup)
            row = {
                "n_layer": n_layer,
                "n_hidden": n_hidden,
                "path": stepper.name,
                "steps": steps,
                "p50_us": round(float(np.percentile(us, 50)), 1),
                "p99_us": round(float(np.percentile(us, 99)), 1),
            }
            rows.append(row)
            size = f"{n_layer}x{n_hidden}"
            print(f"{size:>6} {row['path']:>15} {row['p50_us']:>8.1f} {row['p99_us']:>8.1f}")
        eager, fused = rows[-2]["p50_us"], rows[-1]["p50_us"]
        print(f"{'':>6} {'speed-up':>15} {eager / fused:>8.1f}x")
    result = {
        "benchmark": "step_latency",
        "warmup": args.warmup,
        "vocab_size": args.vocab,
        "n_embd": ModelConfig(args.vocab).n_embd,
        "machine": machine(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
