"""The generic batch-1 step (TorchStep) and the LSTM cell written out by hand (cell_step).

TorchStep runs the model's own ``step`` on any device: the fallback when no faster path
holds. ``cell_step`` is one tick in fixed-shape tensor operations only; the CUDA graph
step captures it, and it is tested here on the CPU, where no GPU is needed.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from livegen.model import LSTMModel, State
from livegen.steppers.base import StepInput, frame_keys, split_metric
from livegen.style import as_weights, default_weights, split_style


class TorchStep:
    """The generic batch-1 step: ``LSTMModel.step`` on a snapshot of the model, any device."""

    name = "torch-step"

    def __init__(self, model: LSTMModel, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = copy.deepcopy(model).to(self.device).eval()
        self.frame_input = model.cfg.frame_input
        self.metric = model.cfg.metric
        self._logits = torch.empty(model.cfg.vocab_size)  # CPU: the sampler runs there
        self._frame = np.zeros(model.cfg.vocab_size, np.float32)
        self.n_styles = len(model.cfg.styles)
        self._style: Tensor | None = None  # (1, S) on the device: the model's style input
        self.style: np.ndarray | None = None
        if self.n_styles:
            self.set_style(default_weights(model))

    def set_style(self, weights) -> None:
        """Play in style ``weights`` (S,) from the next step on; the state is not touched."""
        if not self.n_styles:
            return
        w = as_weights(weights, self.n_styles).to(torch.float32)
        self._style = w.reshape(1, -1).to(self.device)  # (1, S)
        self.style = w.numpy()

    def new_state(self) -> State:
        return self.model.initial_state(1, self.device)

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def __call__(self, x: StepInput, state: State, pos: int = 0) -> Tensor:
        pt = torch.tensor([operator.index(pos)], device=self.device) if self.metric else None
        if not self.frame_input:
            xt = torch.tensor([operator.index(x)], device=self.device)  # (1,)
        elif isinstance(x, Tensor):
            xt = x.to(self.device, torch.float32).reshape(1, -1)  # (1, V)
        else:
            if isinstance(x, np.ndarray):
                np.copyto(self._frame, x, casting="unsafe")
            else:
                frame_keys(x, self._frame)
            xt = torch.from_numpy(self._frame).to(self.device).reshape(1, -1)  # (1, V)
        with torch.inference_mode():
            logits, new = self.model.step(xt, state, pt, self._style)  # (1, V)
            state.h.copy_(new.h)
            state.c.copy_(new.c)
            self._logits.copy_(logits[0])
        return self._logits


def cell_step(
    weights: CellWeights, x: Tensor, h: Tensor, c: Tensor, pos: Tensor | None = None
) -> Tensor:
    """One tick of the LSTM by hand, in place on ``h``, ``c`` (L, 1, H); returns logits (V,).

    ``x`` is a (1,) token index or a (1, V) frame; ``pos`` a (1,) position index for a
    metric model. Only fixed-shape tensor operations, no Python branching on values: the
    CUDA graph step captures exactly this.
    """
    # (1, H) for a frame through the input Linear, (1, E) for a token's embedding row
    inp = x @ weights.embed.T if weights.frame_input else weights.embed.index_select(0, x)
    for layer, (w_ih, w_hh, b) in enumerate(weights.layers):
        gates = torch.addmm(b, inp, w_ih.T) + h[layer] @ w_hh.T  # (1, 4H)
        if layer == 0 and weights.pos_table is not None:
            gates = gates + weights.pos_table.index_select(0, pos)  # (1, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # (1, H) x4, PyTorch's gate order
        c_new = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)  # (1, H)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)  # (1, H)
        c[layer].copy_(c_new)
        h[layer].copy_(h_new)
        inp = h_new
    return torch.addmm(weights.head_b, inp, weights.head_w.T)[0]  # (V,)


@dataclass(frozen=True)
class CellWeights:
    """The model's weights laid out for :func:`cell_step` (both LSTM biases summed)."""

    frame_input: bool
    embed: Tensor  # (V, E) table, or (H, V) input Linear for frames
    layers: tuple[tuple[Tensor, Tensor, Tensor], ...]  # per layer: W_ih, W_hh, b_ih + b_hh
    head_w: Tensor  # (V, H)
    head_b: Tensor  # (V,)
    pos_table: Tensor | None = None  # (P, 4H) metric rows for layer 0, or None
    # Style models: layer 0's bias without the style, and the style columns (4H, S); the
    # bias in ``layers[0]`` is rewritten in place (a captured graph reads it there).
    bias0: Tensor | None = None
    style_cols: Tensor | None = None

    @classmethod
    def of(cls, model: LSTMModel, device: torch.device | str) -> CellWeights:
        p = {k: v.detach().to(device, torch.float32) for k, v in model.state_dict().items()}
        w_ih0, style_cols = split_style(model, p["lstm.weight_ih_l0"])
        w_ih0, pos_table = split_metric(model, w_ih0)
        layers = tuple(
            (
                (w_ih0 if n == 0 else p[f"lstm.weight_ih_l{n}"]).contiguous(),
                p[f"lstm.weight_hh_l{n}"].contiguous(),
                (p[f"lstm.bias_ih_l{n}"] + p[f"lstm.bias_hh_l{n}"]).contiguous(),
            )
            for n in range(model.cfg.n_layer)
        )
        return cls(
            model.cfg.frame_input,
            p["embed.weight"],
            layers,
            p["head.weight"],
            p["head.bias"],
            None if pos_table is None else pos_table.contiguous(),
            None if style_cols is None else layers[0][2].clone(),
            None if style_cols is None else style_cols.contiguous(),
        )

    def set_style(self, weights) -> None:
        """Layer 0's bias for style ``weights`` (S,), written in place."""
        if self.style_cols is None:
            return
        w = as_weights(weights, self.style_cols.shape[1]).to(self.bias0)
        self.layers[0][2].copy_(self.bias0 + self.style_cols @ w)  # (4H,)
