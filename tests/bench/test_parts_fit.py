"""bench/parts_fit.py end to end on tiny random models and a two-piece voices JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from livegen import checkpoint
from livegen.codecs import make_codec
from livegen.model import LSTMModel, ModelConfig

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"yours": ["Soprano"], "mine": ["Alto", "Tenor", "Bass"]}


def _bench():
    spec = importlib.util.spec_from_file_location("parts_fit", ROOT / "bench" / "parts_fit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _save(path: Path, codec, parts: dict) -> None:
    torch.manual_seed(len(codec.table))
    cfg = ModelConfig(len(codec.table), n_layer=1, n_hidden=8, n_embd=4, metric=True)
    config = {"data": {"parts": parts}}
    checkpoint.save(path, LSTMModel(cfg), codec, data={}, config=config, metrics={})


def _piece(n: int, top: int) -> list[list[int]]:
    # Steps of [S, A, T, B] on the 16th grid; a rest (-1) in the alto now and then.
    return [[top + i % 3, -1 if i % 7 == 3 else 64, 57 + i % 2, 48] for i in range(n)]


def test_parts_fit_counts_the_same_ticks_for_both_models(tmp_path):
    bench = _bench()
    data = tmp_path / "jsb_chorales_16th_voices.json"
    test = [_piece(24, 72), _piece(17, 74)]
    data.write_text(json.dumps({"train": [], "valid": [], "test": test}))
    models, bases = tmp_path / "models", tmp_path / "bases"
    models.mkdir(), bases.mkdir()
    parts = make_codec(
        "parts", ticks_per_quarter=4, low=31, high=86, yours_low=52, yours_max_notes=1,
        mine_low=31, mine_high=79,
    )  # fmt: skip
    _save(models / "chorale_harmony.pt", parts, PARTS)
    _save(bases / "chorale_harmony.pt", make_codec("poly", low=31, high=79), {**PARTS})
    out = tmp_path / "fit.json"
    argv = ["--models", "harmony", "bass", "--checkpoints", str(models)]
    argv += ["--baselines", str(bases), "--data", str(data), "--out", str(out)]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    assert bench.main(argv) == 0
    rows = json.loads(out.read_text())["models"]
    assert list(rows) == ["chorale_harmony"]  # bass has no checkpoints: skipped, said so
    row = rows["chorale_harmony"]
    # Every tick of both pieces but the first (the baseline has no context there), and
    # the closing tick where every voice ends.
    assert row["pieces"] == 2 and row["ticks"] == 24 + 17
    assert np.isfinite([row["parts_nll_per_tick"], row["baseline_nll_per_tick"]]).all()
    gap = row["baseline_nll_per_tick"] - row["parts_nll_per_tick"]
    assert abs(row["difference"] - gap) < 2e-4
