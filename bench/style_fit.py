"""Fit: the style model against a single-corpus model of the same size, corpus by corpus.

For each style of ``checkpoints/style_poly.pt`` (``configs/style_poly.yaml``: folk songs,
Bach chorales, fiddle tunes) and its baseline (``configs/baselines/style_<name>.yaml``: the
same LSTM, the same codec and settings, the same epochs over that corpus alone, trained by
the same train.py), the valid NLL per token of that corpus's valid pieces (its own split,
the one both models were validated on), teacher forced from zero state as train.py's
``evaluate`` does: the style model told that corpus's style, the baseline told nothing. The
goal (issue 11) is the style model within 5% of each baseline. A second table gives each
corpus under every style (does the style input matter: the diagonal should be best).

Only valid pieces are read: test stays untouched for a final figure. Writes
bench/results/style_fit.json. A minute or two on one CPU thread.

    .venv/bin/python bench/style_fit.py [--model checkpoints/style_poly.pt]
        [--baselines /tmp/style_baselines]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from step_latency import machine  # noqa: E402

from livegen import checkpoint  # noqa: E402
from livegen.data import load_pieces  # noqa: E402
from livegen.data.styles import one_hot  # noqa: E402
from livegen.encoded import Encoded  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from livegen.train import evaluate  # noqa: E402

GOAL = 0.05  # within 5% of the single-corpus model's valid NLL


def valid_sequences(loaded, source: str, codec=None) -> list:
    """The valid pieces of ``source`` as the style model's recipe split them, encoded by
    ``codec`` (default: the style model's)."""
    data = loaded.meta["config"]["data"]
    split = load_pieces(
        source, seed=data["seed"], limit=data["limit"], cache_dir=data["cache_dir"], progress=False
    )
    codec = codec or loaded.codec
    return Encoded(codec, split.valid, [0], data["lead_in"], data["beats_per_bar"]).plain()


def shipped_context(styled, name: str, source: str) -> list[dict]:
    """Shipped single-corpus poly models of the same source, on the same valid pieces in
    their own codec: context only, as their codec or budget differs from the baseline's."""
    rows = []
    for path in sorted(checkpoint.SHIPPED_DIR.glob("*.pt")):
        if path.resolve() == Path(styled.path).resolve() or path.name.endswith(".resume.pt"):
            continue
        other = checkpoint.load(path, device="cpu")
        data, cfg = other.meta.get("data") or {}, other.meta.get("config") or {}
        if data.get("source") != source or other.codec.name != "poly" or other.model.cfg.metric:
            continue
        if (cfg.get("data") or {}).get("parts"):
            continue
        got = evaluate(other.model, valid_sequences(styled, source, other.codec), "cpu")
        rows.append(
            {"style": name, "model": path.stem, "codec": other.codec.describe(),
             "epochs": (cfg.get("train") or {}).get("epochs"), "valid_nll": got["nll"],
             "same_codec": same_codec(other, styled)}
        )  # fmt: skip
    return rows


def same_codec(a, b) -> bool:
    return a.codec.name == b.codec.name and a.codec.params() == b.codec.params()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "checkpoints" / "style_poly.pt"))
    ap.add_argument("--baselines", default="/tmp/style_baselines", help="style_<name>.pt here")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "style_fit.json"))
    args = ap.parse_args()
    limit_threads(1)
    styled = checkpoint.load(args.model, device="cpu")
    styles = styled.model.cfg.styles
    sources = styled.meta["config"]["data"]["styles"]
    n = len(styles)
    rows, cross, context = [], {}, []
    for index, name in enumerate(styles):
        t0 = time.perf_counter()
        seqs = valid_sequences(styled, sources[name])
        ones = [one_hot(index, n)] * len(seqs)
        mine = evaluate(styled.model, seqs, "cpu", styles=ones)
        cross[name] = {
            other: evaluate(styled.model, seqs, "cpu", styles=[one_hot(j, n)] * len(seqs))["nll"]
            for j, other in enumerate(styles)
        }
        row = {"style": name, "source": sources[name], "valid_pieces": len(seqs)}
        row |= {"tokens": mine["steps"], "style_nll": mine["nll"], "style_acc": mine["acc"]}
        path = Path(args.baselines) / f"style_{name}.pt"
        if path.is_file():
            base = checkpoint.load(path, device="cpu")
            if not same_codec(base, styled):
                raise SystemExit(f"{path}: codec {base.codec.describe()} is not the style model's")
            got = evaluate(base.model, seqs, "cpu")
            ratio = mine["nll"] / got["nll"]
            row |= {"baseline": str(path), "baseline_nll": got["nll"], "baseline_acc": got["acc"]}
            row |= {"ratio": ratio, "within_goal": ratio <= 1 + GOAL}
            row["baseline_epochs"] = base.meta["metrics"].get("epochs_run")
        else:
            row["baseline"] = None  # not trained here: python train.py --config configs/...
        context += shipped_context(styled, name, sources[name])
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)

    print(f"valid NLL per token, {Path(args.model).name} vs single-corpus models (same size)")
    print(f"{'style':10} {'pieces':>6} {'tokens':>8} {'style':>7} {'single':>7} {'ratio':>7}")
    for r in rows:
        base = f"{r['baseline_nll']:7.4f}" if r.get("baseline") else "      -"
        ratio = f"{r['ratio']:7.3f}" if r.get("baseline") else "      -"
        print(
            f"{r['style']:10} {r['valid_pieces']:6d} {r['tokens']:8d} {r['style_nll']:7.4f} "
            f"{base} {ratio}"
        )
    print("\neach corpus's valid NLL told each style (rows: corpus, columns: style given)")
    print(f"{'':10} " + " ".join(f"{s:>9}" for s in styles))
    for name in styles:
        print(f"{name:10} " + " ".join(f"{cross[name][s]:9.4f}" for s in styles))
    for c in context:
        print(
            f"\ncontext: shipped {c['model']} ({c['codec']}, {c['epochs']} epochs) on "
            f"{c['style']}'s valid pieces: {c['valid_nll']:.4f} per token of its own codec"
            + ("" if c["same_codec"] else " (another codec: not comparable token for token)")
        )
    result = {
        "model": str(Path(args.model).name),
        "styles": list(styles),
        "goal": f"style model's valid NLL within {GOAL:.0%} of each single-corpus model's",
        "rows": rows,
        "cross": cross,
        "shipped_context": context,
        "style_model_epochs": styled.meta["metrics"].get("epochs_run"),
        "machine": machine(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
