"""Checkpoints: a round trip gives the same model, and every bad file is one clear error."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from livegen import checkpoint
from livegen.checkpoint import CheckpointError
from livegen.codecs import make_codec
from livegen.model import LSTMModel, ModelConfig

DATA = {"source": "essen-erk", "pieces": {"train": 8, "valid": 1, "test": 1}}
METRICS = {"val_nll": np.float64(1.25), "val_acc": 0.5, "best_epoch": 3, "train_seconds": 12.5}


def tiny(codec_name: str = "melody", n_hidden: int = 16, seed: int = 0):
    codec = make_codec(codec_name)
    cfg = ModelConfig(
        vocab_size=codec.vocab_size,
        n_layer=2,
        n_hidden=n_hidden,
        n_embd=8,
        frame_input=codec.head == "sigmoid",
    )
    torch.manual_seed(seed)
    return LSTMModel(cfg), codec


@pytest.fixture
def saved(tmp_path) -> Path:
    model, codec = tiny()
    path = tmp_path / "model.pt"
    checkpoint.save(path, model, codec, data=DATA, config={"train": {"lr": 0.002}}, metrics=METRICS)
    return path


def rewrite(path: Path, change) -> None:
    """Edit a saved checkpoint's dict in place (to fake damaged or foreign files)."""
    blob = torch.load(path, weights_only=True)
    change(blob)
    torch.save(blob, path)


def refused(path: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    for word in words:
        assert word in msg
    return msg


# ---- round trip ------------------------------------------------------------------------------


def test_round_trip_same_outputs(tmp_path, saved):
    model, codec = tiny()
    model.eval()
    loaded = checkpoint.load(saved)
    assert not loaded.model.training and loaded.path == saved
    assert loaded.codec.name == codec.name and loaded.codec.params() == codec.params()
    x = torch.randint(0, codec.vocab_size, (2, 12))  # (B, T)
    with torch.no_grad():
        want, _ = model(x)
        got, _ = loaded.model(x)
    assert torch.equal(want, got)
    meta = loaded.meta
    assert "state_dict" not in meta
    assert meta["format"] == "livegen-checkpoint" and meta["version"] == 1
    assert meta["data"] == DATA and meta["config"] == {"train": {"lr": 0.002}}
    assert meta["metrics"]["val_nll"] == 1.25 and type(meta["metrics"]["val_nll"]) is float
    assert meta["model"]["n_hidden"] == 16 and meta["livegen_version"] and meta["created"]


def test_round_trip_pianoroll(tmp_path):
    model, codec = tiny("pianoroll")
    model.eval()
    path = tmp_path / "roll.pt"
    checkpoint.save(path, model, codec, data={}, config={}, metrics={})
    loaded = checkpoint.load(path)
    x = torch.randint(0, 2, (1, 5, codec.vocab_size)).float()  # (B, T, V)
    with torch.no_grad():
        assert torch.equal(model(x)[0], loaded.model(x)[0])


def test_save_is_atomic_and_overwrites(tmp_path, saved):
    model, codec = tiny(seed=1)
    checkpoint.save(saved, model, codec, data={}, config={}, metrics={"val_nll": 2.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no tmp left behind
    assert checkpoint.load(saved).meta["metrics"] == {"val_nll": 2.0}


def test_save_refuses_objects(tmp_path):
    model, codec = tiny()
    with pytest.raises(TypeError, match="metrics.when"):
        checkpoint.save(
            tmp_path / "x.pt", model, codec, data={}, config={}, metrics={"when": object()}
        )
    assert not list(tmp_path.iterdir())


def test_summary(saved):
    info = checkpoint.summary(checkpoint.load(saved))
    assert info["codec"] == "melody" and info["ticks_per_quarter"] == 4
    assert (info["n_layer"], info["n_hidden"], info["n_embd"]) == (2, 16, 8)
    model, _ = tiny()
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["file_size"] == saved.stat().st_size
    assert info["data_source"] == "essen-erk" and info["val_nll"] == 1.25
    assert info["train_seconds"] == 12.5 and info["name"] == "model"


def test_resume_round_trip(tmp_path):
    model, _ = tiny()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.zeros(1, 3, dtype=torch.long))[0].sum().backward()
    optim.step()
    rng = np.random.default_rng(5)
    state = {
        "model": model.state_dict(),
        "optim": optim.state_dict(),
        "rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "history": [{"epoch": 1, "val_nll": 1.0}],
        "best": {"nll": float("inf"), "epoch": -1},
        "epoch": 0,
    }
    path = tmp_path / "run.resume.pt"
    checkpoint.save_resume(path, state)
    back = checkpoint.load_resume(path)
    rng2 = np.random.default_rng(0)
    rng2.bit_generator.state = back["rng"]
    assert rng2.integers(1 << 30) == rng.integers(1 << 30)
    assert back["optim"]["param_groups"][0]["lr"] == 1e-3 and back["best"]["nll"] == float("inf")
    with pytest.raises(CheckpointError, match="resume"):
        checkpoint.load_resume(tmp_path / "missing.resume.pt")


# ---- finding models --------------------------------------------------------------------------


def test_resolve_names(tmp_path, monkeypatch, saved):
    models = tmp_path / "models"
    models.mkdir()
    (models / "folky.pt").write_bytes(saved.read_bytes())
    monkeypatch.setenv("LIVEGEN_MODELS", str(models))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert checkpoint.resolve(saved) == saved  # an existing path is taken as is
    assert checkpoint.resolve("folky") == models / "folky.pt"
    assert checkpoint.resolve("folky.pt") == models / "folky.pt"
    assert models / "folky.pt" in checkpoint.available()
    assert checkpoint.load("folky").codec.name == "melody"
    with pytest.raises(CheckpointError) as e:
        checkpoint.resolve("nosuch")
    assert "nosuch" in str(e.value) and "folky" in str(e.value)  # lists what there is


def test_missing_file(tmp_path):
    refused(tmp_path / "gone.pt", "no such file")


def test_folder_is_not_a_checkpoint(tmp_path):
    refused(tmp_path, "folder")


# ---- damaged and foreign files -----------------------------------------------------------------


class Payload:
    """Unpickling this makes a folder: harmless, and proof when code did run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("writer", ["torch", "torch-legacy", "pickle-2"])
def test_code_is_refused_and_never_run(tmp_path, writer):
    marker = tmp_path / "ran"
    blob = {"format": "livegen-checkpoint", "version": 1, "x": Payload(marker)}
    path = tmp_path / "evil.pt"
    if writer == "torch":
        torch.save(blob, path)
    elif writer == "torch-legacy":
        torch.save(blob, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(blob, protocol=2))
    refused(path, "refused: it contains code/objects, not just weights")
    assert not marker.exists()


def test_plain_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"x": Payload(marker)})
    pickle.loads(payload)  # the control: unpickling it naively does run the payload
    assert marker.exists()
    marker.rmdir()
    path = tmp_path / "evil.pkl"
    path.write_bytes(payload)
    refused(path)
    assert not marker.exists()


def test_truncated(tmp_path, saved):
    data = saved.read_bytes()
    for n in (0, 100, len(data) // 2, len(data) - 10):
        saved.write_bytes(data[:n])
        refused(saved, "truncated or corrupt")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    for seed in range(3):
        path.write_bytes(np.random.default_rng(seed).bytes(5000))
        refused(path, "truncated or corrupt")
    path.write_text("hello, not a model\n")
    refused(path, "truncated or corrupt")


def test_foreign_state_dict(tmp_path):
    model, _ = tiny()
    path = tmp_path / "plain.pt"
    torch.save(model.state_dict(), path)
    refused(path, "not a livegen checkpoint", "bare state_dict")
    torch.save({"epoch": 3, "weights": [1, 2]}, path)
    refused(path, "not a livegen checkpoint", "'epoch'")
    torch.save(torch.zeros(3), path)
    refused(path, "not a livegen checkpoint", "Tensor")


def test_newer_version(saved):
    rewrite(saved, lambda b: b.update(version=99))
    refused(saved, "version 99", "upgrade livegen")


def test_missing_section(saved):
    rewrite(saved, lambda b: b.pop("codec"))
    refused(saved, "missing 'codec'")


def test_unknown_codec(saved):
    rewrite(saved, lambda b: b["codec"].update(name="banjo"))
    refused(saved, "unknown codec 'banjo'", "melody", "poly")


def test_bad_codec_params(saved):
    rewrite(saved, lambda b: b["codec"]["params"].update(wobble=3))
    refused(saved, "bad codec params", "wobble")


def test_unknown_model_field(saved):
    rewrite(saved, lambda b: b["model"].update(n_heads=4))
    refused(saved, "model.n_heads", "newer livegen")


def test_vocab_does_not_fit_codec(saved):
    rewrite(saved, lambda b: b["codec"]["params"].update(high=72))
    refused(saved, "vocab_size")


def test_mismatched_shapes(saved):
    rewrite(saved, lambda b: b["model"].update(n_hidden=32))
    msg = refused(saved, "weights do not fit the model sizes", "n_hidden=32", "in the file")
    assert "(64," in msg and "(128," in msg  # 4 gates x 16 in the file, 4 x 32 wanted


def test_missing_weights(saved):
    def drop(blob):
        blob["state_dict"].pop(next(iter(blob["state_dict"])))

    rewrite(saved, drop)
    refused(saved, "missing weights")


def test_unexpected_weights(saved):
    rewrite(saved, lambda b: b["state_dict"].update(extra=torch.zeros(2)))
    refused(saved, "unexpected weights 'extra'")


def test_non_finite_weights(saved):
    def poison(blob):
        tensor = next(iter(blob["state_dict"].values()))
        tensor.view(-1)[0] = float("nan")

    rewrite(saved, poison)
    refused(saved, "NaN")
