"""The model list: shipped models, the user's folders, a file named at start; each described
once from its checkpoint (a bad file is listed with its error)."""

from __future__ import annotations

import threading

import torch

from livegen import checkpoint
from livegen.codecs import make_codec
from livegen.model import LSTMModel, ModelConfig
from livegen.tui.models import Catalog, ModelEntry, ModelInfo, describe_checkpoint, find_models


def save_tiny(path, val_nll: float = 1.5) -> None:
    codec = make_codec("melody")
    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(vocab_size=codec.vocab_size, n_layer=1, n_hidden=16, n_embd=8))
    checkpoint.save(
        path,
        model,
        codec,
        data={"source": "tiny"},
        config={},
        metrics={"val_nll": val_nll, "val_acc": 0.25},
    )


def test_find_models_lists_shipped_user_and_given_files(tmp_path, monkeypatch):
    users = tmp_path / "models"
    users.mkdir()
    save_tiny(users / "mine.pt")
    (users / "mine.resume.pt").write_bytes(b"resume state, not a model")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    save_tiny(elsewhere / "given.pt")
    monkeypatch.setenv("LIVEGEN_MODELS", str(users))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    catalog = find_models([str(elsewhere / "given.pt"), str(users / "mine.pt"), "no_such"])
    origins = {e.name: e.origin for e in catalog.entries}
    assert origins["mine"] == "user" and origins["given"] == "file"
    assert "mine.resume" not in origins
    for path in checkpoint.SHIPPED_DIR.glob("*.pt"):
        if not path.name.endswith(".resume.pt"):
            assert origins[path.stem] == "shipped"
    assert list(origins).count("mine") == 1  # a file given twice is listed once


def test_describe_checkpoint_reads_the_summary_or_the_error(tmp_path):
    save_tiny(tmp_path / "tiny.pt", val_nll=1.25)
    info = describe_checkpoint(str(tmp_path / "tiny.pt"))
    assert (info.codec, info.ticks_per_quarter, info.val_nll, info.val_acc) == (
        "melody",
        4,
        1.25,
        0.25,
    )
    assert info.parameters and info.file_size and info.error is None
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    bad = describe_checkpoint(str(junk))
    assert bad.error and "junk.pt" in bad.error


def test_catalog_describes_each_model_once():
    calls = []

    def describe(target: str) -> ModelInfo:
        calls.append(target)
        if target == "bad":
            raise RuntimeError("boom")
        return ModelInfo("poly", 4)

    entries = [ModelEntry("a", "a", "user"), ModelEntry("bad", "bad", "file")]
    catalog = Catalog(entries, describe)
    assert catalog.info(entries[0]) is None  # never loads by itself
    threads = [threading.Thread(target=catalog.describe, args=(e,)) for e in entries * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == ["a", "bad"]
    assert catalog.info(entries[0]).codec == "poly"
    assert "boom" in catalog.info(entries[1]).error
    assert catalog.find("a") is entries[0] and catalog.find("nope") is None
