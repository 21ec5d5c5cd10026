"""The BL2012 sets with livegen's live ``poly`` codec: per-frame NLL and ACC, tuned on valid.

Two steps, so that the test split is read once, for the run valid chose:

    # each sweep run's checkpoint (train.py --train.out=DIR), on valid only
    .venv/bin/python bench/bl2012_poly.py valid --set jsb \\
        --data ../shared/data/bl2012/jsb_chorales.json h256_d3=/tmp/bl2012/jsb/h256_d3/x.pt ...
    # the best valid row of that sweep, on test, once
    .venv/bin/python bench/bl2012_poly.py test --set jsb \\
        --data ../shared/data/bl2012/jsb_chorales.json

``valid`` adds its rows to ``bench/results/bl2012_poly_<set>.sweep.json``; ``test`` writes
``bench/results/bl2012_poly_<set>.json`` (``test_nll``, ``test_acc``, ``valid_nll``, the
config, parameters, training time, the fused step's latency and the sweep table) and
refuses to run again over a file that has a test figure unless given ``--again``.
Figures are defined in :mod:`livegen.bl2012`: NLL in nats per frame, the sum of the tick's
token NLLs under the live grammar (and without it, ``nll_unmasked``), every frame of every
piece counted once, each piece after one silent tick.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine, percentiles, time_block  # noqa: E402
from livegen import bl2012, checkpoint  # noqa: E402
from livegen.errors import LivegenError  # noqa: E402
from livegen.steppers.fused import FusedStep  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SETS = {"jsb": 1, "piano": 2}  # set -> ticks per quarter (one frame per tick)
PUBLISHED = {  # test NLL per frame, from ../shared/data/README.md
    "jsb": {"RNN": 8.71, "RNN-NADE": 5.19, "GRU": 8.54, "TCN": 8.10},
    "piano": {"RNN": 8.37, "RNN-NADE": 7.05},
}


def figures(path: Path, data: str, split: str) -> tuple[checkpoint.Loaded, dict]:
    loaded = checkpoint.load(path)
    if loaded.codec.name != "poly":
        raise LivegenError(f"{path}: a {loaded.codec.name!r} model; this measures poly models")
    lead_in = int(loaded.meta.get("config", {}).get("data", {}).get("lead_in", 0))
    t0 = time.perf_counter()
    got = bl2012.evaluate(loaded.model, loaded.codec, bl2012.read_frames(data, split), lead_in)
    return loaded, {**got.as_dict(), "lead_in": lead_in, "seconds": time.perf_counter() - t0}


def row(name: str, path: Path, loaded: checkpoint.Loaded, valid: dict) -> dict:
    cfg, metrics = loaded.meta.get("config", {}), loaded.meta.get("metrics", {})
    return {
        "run": name,
        "checkpoint": str(path),
        "valid_nll": valid["nll"],
        "valid_nll_unmasked": valid["nll_unmasked"],
        "valid_acc": valid["acc"],
        "valid_frames": valid["frames"],
        "codec": loaded.codec.params(),  # the token order within a tick among them
        "model": cfg.get("model"),
        "data": cfg.get("data"),
        "train": cfg.get("train"),
        "parameters": metrics.get("parameters"),
        "best_epoch": metrics.get("best_epoch"),
        "epochs_run": metrics.get("epochs_run"),
        "train_seconds": metrics.get("train_seconds"),
        "machine": metrics.get("machine"),
    }


def step_latency(loaded: checkpoint.Loaded, tokens_per_frame: float, tpq: int) -> dict:
    """The fused live step back to back, per token; a tick steps every token of its frame."""
    step = FusedStep(loaded.model)
    state = step.new_state()
    tokens = [i % loaded.codec.vocab_size for i in range(3000)]
    time_block(lambda tok: step(tok, state), tokens[:300], 0.0)  # warm caches and allocator
    per_token = percentiles(time_block(lambda tok: step(tok, state), tokens, 0.0))
    return {
        "per_token_us": per_token,
        "tokens_per_frame": tokens_per_frame,
        "tick_us_at_mean_tokens_p50": per_token["p50_us"] * tokens_per_frame,
        "tick_budget_us_at_120_bpm": 500_000 / tpq,  # one frame = one tick
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("valid", "test"))
    ap.add_argument("--set", required=True, choices=tuple(SETS))
    ap.add_argument("--data", required=True, help="the bl2012 JSON file of the set")
    ap.add_argument("runs", nargs="*", help="valid: NAME=CHECKPOINT per sweep run")
    ap.add_argument("--again", action="store_true", help="test: overwrite a test figure")
    args = ap.parse_intermixed_args()
    limit_threads(1)
    sweep_path = RESULTS / f"bl2012_poly_{args.set}.sweep.json"
    out_path = RESULTS / f"bl2012_poly_{args.set}.json"
    try:
        sweep = json.loads(sweep_path.read_text()) if sweep_path.exists() else {"rows": []}
        if args.mode == "valid":
            if not args.runs:
                raise LivegenError("valid: give NAME=CHECKPOINT for each sweep run")
            for spec in args.runs:
                name, _, path = spec.partition("=")
                loaded, valid = figures(Path(path), args.data, "valid")
                sweep["rows"] = [r for r in sweep["rows"] if r["run"] != name]
                sweep["rows"].append(row(name, Path(path), loaded, valid))
                print(
                    f"{name:<16} valid NLL {valid['nll']:.3f} per frame"
                    f" (unmasked {valid['nll_unmasked']:.3f})  ACC {100 * valid['acc']:.1f}%"
                    f"  {valid['frames']} frames  {valid['seconds']:.0f} s"
                )
            sweep["rows"].sort(key=lambda r: r["valid_nll"])
            sweep.update(set=args.set, data=args.data, split="valid", unit="nats per frame")
            RESULTS.mkdir(parents=True, exist_ok=True)
            sweep_path.write_text(json.dumps(sweep, indent=2) + "\n")
            return 0
        if not sweep["rows"]:
            raise LivegenError(f"{sweep_path}: no sweep yet; run the valid step first")
        if out_path.exists() and "test_nll" in json.loads(out_path.read_text()) and not args.again:
            raise LivegenError(f"{out_path} has a test figure already: test is read once")
        best = min(sweep["rows"], key=lambda r: r["valid_nll"])
        loaded, test = figures(Path(best["checkpoint"]), args.data, "test")
        result = {
            "benchmark": f"bl2012_poly_{args.set}",
            "command": " ".join(["bench/bl2012_poly.py", *sys.argv[1:]]),
            "data": args.data,
            "unit": "nats per frame: the sum of the tick's poly token NLLs (an upper bound)",
            "chosen": best["run"],
            "test_nll": test["nll"],
            "test_nll_unmasked": test["nll_unmasked"],
            "test_acc": test["acc"],
            "test_frames": test["frames"],
            "valid_nll": best["valid_nll"],
            "valid_acc": best["valid_acc"],
            "lead_in": test["lead_in"],
            "config": {k: best.get(k) for k in ("codec", "model", "data", "train")},
            "parameters": best["parameters"],
            "train_seconds": best["train_seconds"],
            "best_epoch": best["best_epoch"],
            "epochs_run": best["epochs_run"],
            "published_test_nll": PUBLISHED[args.set],
            "fused_step": step_latency(loaded, test["tokens"] / test["frames"], SETS[args.set]),
            "machine": machine(),
            "sweep": sweep["rows"],
        }
        out_path.write_text(json.dumps(result, indent=2) + "\n")
        print(
            f"{args.set}: chosen {best['run']} by valid NLL {best['valid_nll']:.3f}; test NLL"
            f" {test['nll']:.3f} per frame (unmasked {test['nll_unmasked']:.3f}),"
            f" ACC {100 * test['acc']:.1f}%; wrote {out_path}"
        )
    except (LivegenError, OSError) as e:
        print(f"bl2012_poly.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
