"""What a training run leaves beside its checkpoint: the data and metrics it describes
itself with, ``<name>.metrics.json``, the loss plot, and the resume state.

The epoch loop (:mod:`livegen.train`) decides when each is written; this module owns
what goes in them, so a resumed run reads back exactly what an interrupted one wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from livegen import checkpoint
from livegen.model import LSTMModel


def describe(cfg, split, n_params, history, best, elapsed, device, world) -> dict:
    """The run so far as the checkpoint stores it: ``data`` (what it learnt from) and
    ``metrics`` (the best validation epoch, speed, the machine)."""
    import platform

    styles = cfg.data.styles
    data = {
        "source": " + ".join(styles.values()) if styles else cfg.data.source,
        "pieces": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        "split": split.info.get("split"),
        "parts": split.info.get("parts"),
        "heldout": split.info.get("heldout"),
        "styles": split.info.get("styles"),
        "transpose": cfg.data.transpose,
    }
    metrics = {
        "val_nll": best["nll"],
        "val_acc": best.get("acc"),
        "best_epoch": best["epoch"],
        "epochs_run": len(history),
        "parameters": n_params,
        "train_seconds": round(elapsed, 1),
        "tokens_per_s": history[-1]["tokens_per_s"] if history else None,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, torch {torch.__version__}, "
        f"{device.type}" + (f" x{world}" if world > 1 else ""),
        "nll_unit": "nats per frame (sum over keys)"
        if cfg.codec.name == "pianoroll"
        else "nats per token",
    }
    return {"data": data, "metrics": metrics}


def plot_losses(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot(epochs, [r["train_loss"] for r in history], label="train loss")
    ax.plot(epochs, [r["val_nll"] for r in history], label="validation NLL")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_metrics(path: Path, metrics: dict, data: dict, history: list[dict]) -> None:
    path.write_text(json.dumps({"metrics": metrics, "data": data, "history": history}, indent=2))


def save_resume(
    path: Path,
    model: LSTMModel,
    optim: torch.optim.Optimizer,
    rng: np.random.Generator,
    *,
    history: list[dict],
    best: dict,
    epoch: int,
    step: int,
    elapsed: float,
) -> None:
    """Everything :func:`load_resume` needs to continue after ``epoch`` as if never stopped."""
    checkpoint.save_resume(
        path,
        {
            "model": model.state_dict(),
            "optim": optim.state_dict(),
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": history,
            "best": best,
            "epoch": epoch,
            "step": step,
            "elapsed": elapsed,
        },
    )


def load_resume(
    path: Path, model: LSTMModel, optim: torch.optim.Optimizer, rng: np.random.Generator
) -> tuple[list[dict], dict, int, int, float]:
    """Restore weights, optimiser and both RNGs in place; returns (history, best, the epoch
    to start at, step, elapsed seconds)."""
    state = checkpoint.load_resume(path)
    model.load_state_dict(state["model"])
    optim.load_state_dict(state["optim"])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    return state["history"], state["best"], state["epoch"] + 1, state["step"], state["elapsed"]
