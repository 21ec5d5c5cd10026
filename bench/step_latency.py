"""Live step latency at batch 1 on one CPU thread: eager nn.LSTM, livegen's path, the floor.

For every shipped model (``checkpoints/*.pt``) and a 3x512 ``performance`` model (the
Performance RNN size), one step is what the live engine does per token: the model step plus
sampling. Three paths
over the same weights, measured in the same run:

- ``eager``: ``nn.LSTM`` through the model's own ``step`` (TorchStep), torch's CPU kernels;
- ``livegen``: the path the engine picks on this device (``make_stepper``: FusedStep, or
  the int8 step for a model too big for cache), with sampling;
- ``model``: livegen's step alone, without sampling (what the floor bounds);
- ``floor``: only the GEMVs of the step (every layer's [W_ih | W_hh] and the head) over
  the same fp32 weights, no nonlinearity, no sampling: what memory bandwidth allows.

Each path is timed back to back and *paced* (one step, then idle until the next tick,
every 10 ms and every 125 ms), which is the live condition: between ticks the weights
fall out of cache. Paths alternate in blocks so machine noise hits them alike. A last
table times the whole Player tick (step + sampling + decode, all tokens of a tick).

    .venv/bin/python bench/step_latency.py            # about 4 minutes
    .venv/bin/python bench/step_latency.py --quick    # about 30 seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from livegen import checkpoint  # noqa: E402
from livegen.codecs import make_codec  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.notes import EMPTY_TICK  # noqa: E402
from livegen.player import Player  # noqa: E402
from livegen.sampling import Sampler  # noqa: E402
from livegen.steppers import make_stepper  # noqa: E402
from livegen.steppers.torch_step import TorchStep  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402

PACES = (0.0, 0.010, 0.125)  # seconds between steps; 0 = back to back


class Floor:
    """The GEMV chain of one step over the model's fp32 weights: the bandwidth floor."""

    name = "floor"

    def __init__(self, model: LSTMModel) -> None:
        p = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
        cfg = model.cfg
        H = cfg.n_hidden
        self.w = []
        for n in range(cfg.n_layer):
            w_ih = p[f"lstm.weight_ih_l{n}"]
            if n == 0 and not cfg.frame_input:
                w_ih = w_ih[:, :0]  # layer 0's input projection is a table lookup in livegen
            self.w.append(
                np.ascontiguousarray(np.concatenate([w_ih, p[f"lstm.weight_hh_l{n}"]], 1))
            )
        self.head = np.ascontiguousarray(p["head.weight"])
        self.x = [np.ones(w.shape[1], np.float32) for w in self.w]
        self.g = np.empty(4 * H, np.float32)
        self.out = np.empty(self.head.shape[0], np.float32)
        self.h = np.ones(H, np.float32)

    def __call__(self, token: int) -> None:
        for w, x in zip(self.w, self.x, strict=True):
            np.dot(w, x, out=self.g)
        np.dot(self.head, self.h, out=self.out)


def step_fn(path: str, model: LSTMModel, sampler: Sampler):
    """A callable(token) doing one live step of ``path`` (model step + sampling)."""
    if path == "floor":
        return Floor(model)
    stepper = TorchStep(model, "cpu") if path == "eager" else make_stepper(model, "cpu")
    state = stepper.new_state()
    if path == "model":  # livegen's step alone: what the floor bounds

        def step(token: int) -> None:
            stepper(token, state)

        step.name = stepper.name  # type: ignore[attr-defined]
        return step

    def step(token: int) -> None:
        sampler.sample(stepper(token, state))

    step.name = stepper.name  # type: ignore[attr-defined]
    return step


def time_block(fn, tokens: list[int], pace: float) -> list[float]:
    """Microseconds per call; with ``pace``, each call starts on a fixed deadline."""
    clock = time.perf_counter
    out = []
    start = clock()
    for n, tok in enumerate(tokens):
        if pace:
            deadline = start + n * pace
            left = deadline - clock()
            if left > 0.0005:
                time.sleep(left - 0.0005)
            while clock() < deadline:
                pass
        t0 = clock()
        fn(tok)
        out.append((clock() - t0) * 1e6)
    return out


def shipped() -> list[str]:
    """Every model in checkpoints/ (not a run's resume state): each gets its rows."""
    found = sorted(checkpoint.SHIPPED_DIR.glob("*.pt"))
    return [p.stem for p in found if not p.name.endswith(".resume.pt")]


def models(quick: bool) -> list[tuple[str, LSTMModel, object]]:
    out = []
    for name in shipped():
        try:
            loaded = checkpoint.load(checkpoint.resolve(name))
        except Exception as err:  # a model not trained yet is left out, and said so
            print(f"skipping {name}: {err}")
            continue
        out.append((name, loaded.model.eval(), loaded.codec))
    codec = make_codec("performance")
    torch.manual_seed(0)
    cfg = ModelConfig(codec.vocab_size, n_layer=3, n_hidden=512, n_embd=64)
    out.append(("performance 3x512 (random weights)", LSTMModel(cfg).eval(), codec))
    return out


def percentiles(us: list[float]) -> dict:
    a = np.asarray(us)
    return {
        "p50_us": round(float(np.percentile(a, 50)), 1),
        "p99_us": round(float(np.percentile(a, 99)), 1),
        "n": len(a),
    }


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:
        blas_name = None
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "numpy_blas": blas_name,
        "threads": 1,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few steps: a smoke run")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "step_latency.json")
    args = ap.parse_args()
    limit_threads(1)  # the live step runs on one core
    # Steps per block and blocks per (model, pace): paths alternate block by block.
    plan = {0.0: (400, 5), 0.010: (100, 5), 0.125: (16, 5)}
    if args.quick:
        plan = {0.0: (100, 2), 0.010: (30, 2), 0.125: (4, 2)}
    rows, ticks = [], []
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    print(f"{'model':>36} {'pace':>8} {'path':>8} {'p50 us':>8} {'p99 us':>8} {'x floor':>8}")
    for name, model, codec in models(args.quick):
        V = model.cfg.vocab_size
        sampler = Sampler(temperature=1.0, seed=0)
        fns = {p: step_fn(p, model, sampler) for p in ("eager", "livegen", "model", "floor")}
        for fn in fns.values():  # warm-up
            for tok in rng.integers(0, V, 50).tolist():
                fn(tok)
        for pace, (steps, blocks) in plan.items():
            us: dict[str, list[float]] = {p: [] for p in fns}
            for _ in range(blocks):
                for path, fn in fns.items():
                    us[path] += time_block(fn, rng.integers(0, V, steps).tolist(), pace)
            floor = np.percentile(us["floor"], 50)
            for path in fns:
                stats = percentiles(us[path])
                row = {"model": name, "pace_ms": pace * 1000, "path": path, **stats}
                row["path_name"] = getattr(fns[path], "name", path)
                row["p50_vs_floor"] = round(stats["p50_us"] / floor, 2)
                rows.append(row)
                pace_text = "b2b" if pace == 0 else f"{pace * 1000:.0f} ms"
                print(
                    f"{name:>36} {pace_text:>8} {path:>8} {stats['p50_us']:>8.1f} "
                    f"{stats['p99_us']:>8.1f} {row['p50_vs_floor']:>8.2f}"
                )
        # The whole Player tick (every token of a tick, sampling and decoding), paced 125 ms
        # when not quick, after a primer of silence so the state is warm.
        player = Player(model, codec, Sampler(temperature=1.0, seed=1))
        with torch.inference_mode():
            for _ in range(32):
                player.step(EMPTY_TICK, play=True)

            def tick(_tok: int, player=player) -> None:
                player.step(EMPTY_TICK, play=True)

            for pace in (0.0, 0.125 if not args.quick else 0.010):
                steps = 300 if pace == 0 else (48 if not args.quick else 20)
                stats = percentiles(time_block(tick, [0] * steps, pace))
                ticks.append({"model": name, "pace_ms": pace * 1000, **stats})
                print(
                    f"{name:>36} {'b2b' if pace == 0 else f'{pace * 1000:.0f} ms':>8} "
                    f"{'tick':>8} {stats['p50_us']:>8.1f} {stats['p99_us']:>8.1f}"
                )
    result = {
        "benchmark": "step_latency",
        "command": "python bench/step_latency.py" + (" --quick" if args.quick else ""),
        "machine": {**machine(), "load_avg_1min_before": round(load_before, 2)},
        "steps": rows,
        "player_ticks": ticks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
