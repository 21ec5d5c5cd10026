"""What a run writes beside its checkpoint: the resume state read back as written, and
metrics.json."""

from __future__ import annotations

import json

import numpy as np
import torch

from livegen.model import LSTMModel, ModelConfig
from livegen.run_record import load_resume, save_resume, write_metrics


def model_and_optimiser(seed: int):
    torch.manual_seed(seed)
    model = LSTMModel(ModelConfig(vocab_size=6, n_layer=1, n_hidden=8, n_embd=4))
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = model(torch.tensor([[1, 2, 3]]))[0].sum()
    loss.backward()
    optim.step()  # the optimiser has state worth keeping
    return model, optim


def test_the_resume_state_restores_weights_optimiser_and_both_rngs(tmp_path):
    model, optim = model_and_optimiser(0)
    rng = np.random.default_rng(3)
    rng.random(5)
    torch.manual_seed(11)
    history, best = [{"epoch": 1, "val_nll": 2.5}], {"nll": 2.5, "acc": 0.3, "epoch": 1}
    save_resume(
        tmp_path / "r.pt",
        model,
        optim,
        rng,
        history=history,
        best=best,
        epoch=0,
        step=7,
        elapsed=1.5,
    )
    next_draw, next_torch = rng.random(), torch.rand(1)

    other, other_optim = model_and_optimiser(1)  # another run's weights and moments
    other_rng = np.random.default_rng(99)
    torch.manual_seed(0)
    got = load_resume(tmp_path / "r.pt", other, other_optim, other_rng)
    assert got == (history, best, 1, 7, 1.5)  # epoch 0 was done: start at 1
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    moments = [s["exp_avg"] for s in optim.state_dict()["state"].values()]
    restored = [s["exp_avg"] for s in other_optim.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(moments, restored, strict=True))
    assert other_rng.random() == next_draw and torch.equal(torch.rand(1), next_torch)


def test_metrics_json_holds_metrics_data_and_history(tmp_path):
    path = tmp_path / "m.json"
    write_metrics(path, {"val_nll": 1.0}, {"source": "tiny"}, [{"epoch": 1}])
    assert json.loads(path.read_text()) == {
        "metrics": {"val_nll": 1.0},
        "data": {"source": "tiny"},
        "history": [{"epoch": 1}],
    }
