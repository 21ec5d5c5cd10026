"""Fit: how much better a parts model predicts livegen's part for hearing yours.

On the BL2012 *test* chorales (``jsb_chorales_16th_voices.json``: steps of [S, A, T, B] on
a 16th grid; none of their melodies was trained on, see checkpoints/README.md), for each
shipped parts model (``checkpoints/chorale_*.pt``) and its unconditional baseline
(``configs/baselines/chorale_*.yaml``: the same LSTM size, the same training pieces, mine's
notes alone as one ``poly`` stream):

- parts: NLL per tick of livegen's part given yours: the sum over the tick's M_ON / M_HOLD
  tokens and its STEP (not the Y_ tokens or MID, which predict your part), teacher forced;
- baseline: NLL per tick of the same notes without yours: the sum of all its tokens;

both over the same ticks (every tick but the first, where the baseline has no context),
after checking that both codecs put the same notes of mine on each tick. Nats per tick,
lower is better; the difference is what hearing yours is worth. Writes
bench/results/parts_fit.json. About a minute per model on one CPU thread.

    .venv/bin/python bench/parts_fit.py [--models harmony bass melody]
        [--baselines /tmp/parts_baselines] [--data ../shared/data/jsb_chorales_16th_voices.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from step_latency import machine  # noqa: E402

from livegen import checkpoint  # noqa: E402
from livegen.config import PartsConfig  # noqa: E402
from livegen.data.parts import load_parts  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from livegen.tick_nll import piece_positions, tick_nll, token_nll  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsb_chorales_16th_voices.json"


def held_parts(loaded) -> PartsConfig:
    """The yours / mine of the recipe that trained ``loaded``, on the JSON's S A T B."""
    parts = loaded.meta["config"]["data"]["parts"]
    return PartsConfig(split="voices", yours=tuple(parts["yours"]), mine=tuple(parts["mine"]))


def mine_pitches(codec, tokens: np.ndarray, ticks: np.ndarray, kinds: tuple[str, ...]):
    """Per tick, the sorted (kind, pitch) of mine's tokens: the notes a tick's figure is for."""
    out: list[list[tuple[str, int]]] = [[] for _ in range(int(ticks[-1]) + 1)]
    for tok, t in zip(tokens.tolist(), ticks.tolist(), strict=True):
        kind, pitch = codec.table[tok]
        if kind in kinds:
            out[t].append((kind.removeprefix("M_"), pitch))  # M_ON and ON alike
    return [sorted(x) for x in out]


def fit_one(name: str, model_path: Path, base_path: Path, data: Path, cache_dir=None) -> dict:
    parts_m = checkpoint.load(model_path)
    base_m = checkpoint.load(base_path)
    pc, bc = parts_m.codec, base_m.codec
    if not hasattr(pc, "encode_parts") or hasattr(bc, "encode_parts"):
        raise SystemExit(f"{name}: expected a parts model and a single-stream baseline")
    split = load_parts(str(data), held_parts(parts_m), cache_dir=cache_dir, progress=False, jobs=1)
    pieces = split.test
    t0 = time.perf_counter()
    parts_sum = base_sum = 0.0
    ticks_counted = on_ticks = 0
    on_sums = np.zeros(2)
    per_piece = []
    for piece in pieces:
        p_tok = pc.encode_parts(piece.yours, piece.mine)
        b_tok = bc.encode(piece.mine)
        p_nll = token_nll(parts_m.model, p_tok, piece_positions(pc, p_tok, piece.beats_per_bar))
        b_nll = token_nll(base_m.model, b_tok, piece_positions(bc, b_tok, piece.beats_per_bar))
        mine = np.isin(p_tok, pc.mine_tokens)
        p_tick = tick_nll(pc, p_tok, p_nll, mine)
        b_tick = tick_nll(bc, b_tok, b_nll)
        # The baseline's encoding ends with mine's last note; the parts one may go on
        # (yours sounding alone): compare the ticks both have, and check they are the same.
        n = min(len(p_tick), len(b_tick))
        p_ticks, b_ticks = pc.tick_of_tokens(p_tok), bc.tick_of_tokens(b_tok)
        p_notes = mine_pitches(pc, p_tok, p_ticks, ("M_ON", "M_HOLD"))[:n]
        b_notes = mine_pitches(bc, b_tok, b_ticks, ("ON", "HOLD"))[:n]
        if p_notes != b_notes:
            raise SystemExit(f"{name}: {piece.name}: the two codecs hear different notes of mine")
        both = np.isfinite(p_tick[:n]) & np.isfinite(b_tick[:n])
        parts_sum += float(p_tick[:n][both].sum())
        base_sum += float(b_tick[:n][both].sum())
        ticks_counted += int(both.sum())
        # Where the figures come from: ticks where livegen strikes a note, and the rest.
        strikes = np.array([any(kind == "ON" for kind, _ in t) for t in p_notes]) & both
        on_sums += (float(p_tick[:n][strikes].sum()), float(b_tick[:n][strikes].sum()))
        on_ticks += int(strikes.sum())
        per_piece.append(
            (float(p_tick[:n][both].mean()), float(b_tick[:n][both].mean()), int(both.sum()))
        )
    parts_nll, base_nll = parts_sum / ticks_counted, base_sum / ticks_counted
    better = sum(p < b for p, b, _ in per_piece)
    return {
        "model": str(model_path),
        "baseline": str(base_path),
        "pieces": len(pieces),
        "ticks": ticks_counted,
        "parts_nll_per_tick": round(parts_nll, 4),
        "baseline_nll_per_tick": round(base_nll, 4),
        "difference": round(base_nll - parts_nll, 4),
        "pieces_parts_better": better,
        "strike_ticks": on_ticks,
        "strike_ticks_parts_nll": round(on_sums[0] / max(on_ticks, 1), 4),
        "strike_ticks_baseline_nll": round(on_sums[1] / max(on_ticks, 1), 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["harmony", "bass", "melody"])
    ap.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    ap.add_argument("--baselines", type=Path, default=Path("/tmp/parts_baselines"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "parts_fit.json")
    ap.add_argument("--cache-dir", type=Path, default=None, help="parsed data; default: user cache")
    args = ap.parse_args(argv)
    limit_threads(1)
    rows = {}
    for m in args.models:
        name = f"chorale_{m}"
        model, base = args.checkpoints / f"{name}.pt", args.baselines / f"{name}.pt"
        missing = [str(p) for p in (model, base) if not p.exists()]
        if missing:
            print(f"{name}: skipped, no {', '.join(missing)} (train its recipe first)")
            continue
        rows[name] = fit_one(name, model, base, args.data, args.cache_dir)
    head = f"{'model':18} {'pieces':>6} {'ticks':>7} {'parts':>8} {'baseline':>9} {'diff':>7}"
    print(f"{head}  {'strikes':>7} {'parts':>7} {'baseline':>8} {'better':>6}")
    for name, r in rows.items():
        print(
            f"{name:18} {r['pieces']:6d} {r['ticks']:7d} {r['parts_nll_per_tick']:8.4f} "
            f"{r['baseline_nll_per_tick']:9.4f} {r['difference']:7.4f}  {r['strike_ticks']:7d} "
            f"{r['strike_ticks_parts_nll']:7.3f} {r['strike_ticks_baseline_nll']:8.3f} "
            f"{r['pieces_parts_better']:3d}/{r['pieces']}"
        )
    print("NLL in nats per tick of livegen's part (lower is better); diff = baseline - parts;")
    print("strikes: the ticks where livegen's part strikes a note; better: pieces parts wins")
    if rows:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {"data": str(args.data), "unit": "nats per tick", "models": rows}
        args.out.write_text(json.dumps({**result, "machine": machine()}, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
