"""bench/style_fit.py end to end on tiny random models and two folders of tunes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from livegen import checkpoint
from livegen.codecs import make_codec
from livegen.midifile import write_midi
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import make_notes

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("style_fit", ROOT / "bench" / "style_fit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tunes(folder: Path, base: int) -> str:
    folder.mkdir()
    for k in range(10):
        notes = make_notes([(base + (i * k) % 5, i * 0.5, i * 0.5 + 0.5) for i in range(12)])
        write_midi(folder / f"t{k}.mid", notes, make_notes([]))
    return str(folder)


def _save(path: Path, codec, styles=(), data=None) -> None:
    torch.manual_seed(len(styles))
    cfg = ModelConfig(codec.vocab_size, n_layer=1, n_hidden=8, n_embd=4, styles=styles)
    config = {"data": data or {}}
    checkpoint.save(path, LSTMModel(cfg), codec, data={}, config=config, metrics={})


def test_style_fit_holds_each_style_against_its_baseline(tmp_path, monkeypatch):
    bench = _bench()
    sources = {"low": _tunes(tmp_path / "low", 50), "high": _tunes(tmp_path / "high", 70)}
    data = {"styles": sources, "seed": 0, "limit": None, "lead_in": 0, "beats_per_bar": 4}
    data["cache_dir"] = str(tmp_path / "cache")
    codec = make_codec("poly", low=36, high=96)
    model = tmp_path / "style.pt"
    _save(model, codec, ("low", "high"), data)
    base = tmp_path / "base"
    base.mkdir()
    _save(base / "style_low.pt", codec)  # high has no baseline: its row says so
    monkeypatch.setattr(checkpoint, "SHIPPED_DIR", tmp_path / "none")
    out = tmp_path / "fit.json"
    argv = ["style_fit.py", "--model", str(model), "--baselines", str(base), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    result = json.loads(out.read_text())
    low, high = result["rows"]
    assert low["valid_pieces"] == high["valid_pieces"] == 1  # each source's own 10% split
    assert low["ratio"] == pytest.approx(low["style_nll"] / low["baseline_nll"])
    assert high["baseline"] is None
    assert result["cross"]["low"]["low"] == pytest.approx(low["style_nll"])
    _save(base / "style_low.pt", make_codec("poly"))  # another pitch range: refused
    with pytest.raises(SystemExit, match="is not the style model's"):
        bench.main()
