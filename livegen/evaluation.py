"""Validation and test scores of a model on whole pieces: NLL per token and accuracy.

Each piece is read from zero state, pieces batched by length; the training loop calls
:func:`evaluate` after every epoch and once on the test split with the best weights.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from livegen.batches import IGNORE
from livegen.model import LSTMModel


@torch.no_grad()
def evaluate(
    model: LSTMModel,
    sequences: list[np.ndarray],
    device,
    batch_size: int = 32,
    positions: list[np.ndarray] | None = None,
    styles: list[np.ndarray] | None = None,
) -> dict:
    """NLL per token (per frame, summed over keys, for pianoroll) and accuracy.

    Each piece is read from zero state; predictions are for steps 2..T from the steps
    before (the BL2012 protocol); all steps are pooled. ``styles`` is each piece's (S,)
    style input (a style model needs it).
    """
    model.eval()
    frames = model.cfg.frame_input
    nll = 0.0
    count = 0
    correct = tp = fp = fn = 0.0
    if positions is None and model.cfg.metric:
        raise ValueError("a metric model is evaluated with the positions of its tokens")
    if positions is None:  # a model without metric input ignores them
        positions = [np.zeros(len(s), dtype=np.int64) for s in sequences]
    n_styles = len(model.cfg.styles)
    if styles is None and n_styles:
        raise ValueError("a style model is evaluated with the style of each piece")
    if styles is None:
        styles = [np.zeros(0, np.float32) for _ in sequences]
    pairs = sorted(
        ((s, p, w) for s, p, w in zip(sequences, positions, styles, strict=True) if len(s) > 1),
        key=lambda sp: len(sp[0]),
    )
    for start in range(0, len(pairs), batch_size):
        group = [s for s, _, _ in pairs[start : start + batch_size]]
        group_pos = [p for _, p, _ in pairs[start : start + batch_size]]
        group_style = torch.as_tensor(
            np.stack([w for _, _, w in pairs[start : start + batch_size]])
        )
        t_max = max(len(s) for s in group) - 1
        b = len(group)
        if frames:
            width = group[0].shape[1]
            x = torch.zeros(b, t_max, width)
            y = torch.zeros(b, t_max, width)
        else:
            x = torch.zeros(b, t_max, dtype=torch.long)
            y = torch.full((b, t_max), IGNORE, dtype=torch.long)
        valid = torch.zeros(b, t_max, dtype=torch.bool)
        pos = torch.zeros(b, t_max, dtype=torch.long)
        for j, s in enumerate(group):
            n = len(s) - 1
            x[j, :n] = torch.as_tensor(s[:-1])
            pos[j, :n] = torch.as_tensor(group_pos[j][:-1])
            y[j, :n] = torch.as_tensor(s[1:])
            valid[j, :n] = True
        x, y, valid = x.to(device), y.to(device), valid.to(device)
        style = group_style.to(device) if n_styles else None  # (B, S)
        logits, _ = model(x, pos=pos.to(device), style=style)  # (B, T, V)
        logits = logits.float()
        if frames:
            bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)
            nll += bce[valid].sum().item()
            pred = (logits > 0)[valid]
            truth = y[valid] > 0.5
            tp += (pred & truth).sum().item()
            fp += (pred & ~truth).sum().item()
            fn += (~pred & truth).sum().item()
        else:
            nll += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                y.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            ).item()
            correct += ((logits.argmax(-1) == y) & valid).sum().item()
        count += int(valid.sum().item())
    model.train()
    if count == 0:
        return {"nll": float("nan"), "acc": float("nan"), "steps": 0}
    acc = tp / max(tp + fp + fn, 1.0) if frames else correct / count
    return {"nll": nll / count, "acc": acc, "steps": count}
