"""The style input of a style model, live: which style (or mix of two) the model plays in.

A style model (``ModelConfig.styles``, trained by ``data.styles``) takes one weight per style
beside each token: one-hot in training, any convex mix live. The session's settings name
style A (``style``), style B (``style_b``) and the mix (``style_mix``: weight ``1 - mix`` on A,
``mix`` on B); :func:`style_weights` turns them into the input vector.

The style is constant from tick to tick, so its share of layer 0's gates is a constant
``W_ih0[:, style columns] @ w``: :func:`split_style` cuts those columns off layer 0's input
weights and each stepper adds ``columns @ w`` to its layer-0 bias (or token table) once
when the style changes. The step then costs nothing more than a model without styles, and
the LSTM state is never touched: a new style takes effect at the next step, state kept.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from livegen.errors import LivegenError


class StyleError(LivegenError, ValueError):
    """A style the model does not have, or a style control for a model without styles."""


def style_weights(n_styles: int, style: int, style_b: int = 0, mix: float = 0.0) -> np.ndarray:
    """The style input (S,) float32: ``1 - mix`` on ``style``, ``mix`` on ``style_b``."""
    for index in (style, style_b):
        if not 0 <= index < n_styles:
            raise StyleError(f"style {index} outside 0..{n_styles - 1}")
    if not 0.0 <= mix <= 1.0:
        raise StyleError(f"style mix must be in 0..1, got {mix:g}")
    w = np.zeros(n_styles, np.float32)
    w[style] += 1.0 - mix
    w[style_b] += mix
    return w


def split_style(model, w_ih0: Tensor) -> tuple[Tensor, Tensor | None]:
    """Layer 0's input weights without the style columns (the last ``S``), and those (4H, S).

    For a model without styles: ``(w_ih0, None)``.
    """
    n = len(model.cfg.styles)
    if not n:
        return w_ih0, None
    return w_ih0[:, :-n], w_ih0[:, -n:]


def default_weights(model) -> np.ndarray | None:
    """A style model's input before any style is chosen: its first style; None: no styles."""
    n = len(model.cfg.styles)
    return style_weights(n, 0) if n else None


def as_weights(weights, n_styles: int) -> Tensor:
    """``weights`` checked as a style input of ``n_styles``: (S,) float64 on the CPU."""
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    if w.shape != (n_styles,):
        raise StyleError(f"a style input of this model has {n_styles} weights, got {w.shape}")
    return w


def describe(styles: tuple[str, ...], style: int, style_b: int, mix: float) -> str:
    """What the panel and the status line show: ``folk``, or ``70% folk + 30% fiddle``."""
    if not styles:
        return "none"
    a = styles[style] if style < len(styles) else "?"
    b = styles[style_b] if style_b < len(styles) else "?"
    if mix <= 0.0 or style == style_b:
        return a
    if mix >= 1.0:
        return b
    return f"{round(100 * (1 - mix))}% {a} + {round(100 * mix)}% {b}"
