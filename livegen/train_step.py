"""One optimisation step's parts: where the head starts, the loss of one chunk under
truncated BPTT, and the learning rate at a step (warm-up, then cosine or constant).

The epoch loop in :mod:`livegen.train` strings these together; ``bench/`` times
:func:`chunk_loss` alone.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from livegen.batches import IGNORE
from livegen.model import LSTMModel, State


def init_head_bias(model: LSTMModel, sequences: list[np.ndarray]) -> None:
    """Start the head at the training data's marginals instead of at uniform.

    For the sigmoid head this is each key's log-odds of sounding: an untrained piano
    roll then costs ~11 nats per frame instead of 88 * ln 2 = 61, and training spends
    its steps on music rather than on learning that most keys are silent.
    """
    bias = model.head.bias
    if model.cfg.frame_input:
        frames = np.concatenate([s for s in sequences if len(s)])  # (N, K)
        p = np.clip(frames.mean(0), 1e-4, 1 - 1e-4)
        values = np.log(p / (1 - p))
    else:
        counts = np.bincount(np.concatenate(sequences), minlength=bias.numel())
        values = np.log((counts + 1) / (counts.sum() + bias.numel()))
    with torch.no_grad():
        bias.copy_(torch.as_tensor(values, dtype=bias.dtype))


def chunk_loss(net, chunk, state: State, device, amp, segments: int = 0):
    """Mean loss over the chunk's valid steps, and the state to carry to the next chunk."""
    keep = torch.as_tensor(~chunk.reset, dtype=torch.float32, device=device)[None, :, None]
    state = State(state.h.detach() * keep, state.c.detach() * keep)  # (L, B, H)
    x = torch.as_tensor(chunk.x, device=device)
    y = torch.as_tensor(chunk.y, device=device)
    pos = None if chunk.pos is None else torch.as_tensor(chunk.pos, device=device)  # (B, T)
    style = None if chunk.style is None else torch.as_tensor(chunk.style, device=device)
    with amp():
        logits, state = net(x, state, checkpoint_segments=segments, pos=pos, style=style)
    logits = logits.float()
    n = max(chunk.n_valid, 1)
    if y.dtype == torch.long:
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
    else:
        valid = torch.as_tensor(chunk.valid, device=device)
        bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)  # (B, T)
        loss = bce[valid].sum()
    return loss / n, state


def lr_at(step: int, total: int, cfg) -> float:
    warm = min(cfg.warmup_steps, max(total // 10, 1))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - warm) / max(total - warm, 1)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
