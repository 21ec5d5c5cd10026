"""The int8 CPU step: the fused step's layout with int8 weights, for big models.

A paced live step is bound by reading the weights from memory (they fall out of cache
between ticks), so quartering their size is what helps a 3x512 model. Each GEMV runs
through torch's quantized ``linear_dynamic`` (fbgemm/x86: int8 weights, per output row
scales; the activation is quantized on the fly). Layer 0's input projection stays an
fp32 table lookup (as in :class:`~livegen.steppers.fused.FusedStep`), and the cell
update is fp32.

:func:`logit_error` measures the loss of accuracy against the fp32 step; ``make_stepper``
uses this path only where asked, or (``auto``) for big models where it passes the check.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np
import torch
from torch import Tensor

from livegen.model import LSTMModel, State
from livegen.steppers.base import StepInput, check_pos, frame_keys, split_metric
from livegen.steppers.fused import FusedStep
from livegen.style import as_weights, default_weights, split_style

BIG = 4 * 1024 * 1024  # fp32 weight bytes beyond which auto picks int8 (no longer cache-sized)
MAX_LOGIT_ERROR = 0.01  # relative to the fp32 logits' range


def _pack(w: Tensor, b: Tensor) -> object:
    """Per-row symmetric int8 weights with their bias, prepacked for linear_dynamic."""
    scale = (w.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()  # (out,)
    with warnings.catch_warnings():  # the quantized-tensor API warns of a future deprecation
        warnings.simplefilter("ignore")
        q = torch.quantize_per_channel(
            w.float(), scale, torch.zeros(len(scale), dtype=torch.long), 0, torch.qint8
        )
    return torch.ops.quantized.linear_prepack(q, b.float())


def weight_bytes(model: LSTMModel) -> int:
    """Bytes of the model's fp32 weight matrices: what a paced step reads from memory."""
    return sum(p.numel() * 4 for n, p in model.named_parameters() if "weight" in n)


class Int8Step:
    """Batch-1 step with int8 weights on the CPU; same interface as FusedStep."""

    name = "cpu-int8"

    def __init__(self, model: LSTMModel) -> None:
        cfg = model.cfg
        L, H, V = cfg.n_layer, cfg.n_hidden, cfg.vocab_size
        self.n_layer, self.n_hidden, self.vocab_size = L, H, V
        self.frame_input = cfg.frame_input
        p = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}

        def bias(n: int) -> Tensor:
            return p[f"lstm.bias_ih_l{n}"] + p[f"lstm.bias_hh_l{n}"]  # (4H,)

        self._packed = []
        # Metric input stays an fp32 table of rows (P, 4H), as the token table does.
        w_ih0, style_cols = split_style(model, p["lstm.weight_ih_l0"])
        self._style_cols = style_cols  # (4H, S): a row of the token table (livegen/style.py)
        w_ih0, self._pos_table = split_metric(model, w_ih0)
        if cfg.frame_input:
            w0 = torch.cat([w_ih0 @ p["embed.weight"], p["lstm.weight_hh_l0"]], 1)
            self._packed.append(_pack(w0, bias(0)))  # over [frame, h]
            self._table = None
            self._xh = [torch.zeros(1, V + H)]
        else:
            self._table = p["embed.weight"] @ w_ih0.T + bias(0)  # (V, 4H)
            self._table_base = self._table.clone()  # without the style's row
            self._packed.append(_pack(p["lstm.weight_hh_l0"], torch.zeros(4 * H)))  # over h
            self._xh = [torch.zeros(1, H)]
        for n in range(1, L):
            w = torch.cat([p[f"lstm.weight_ih_l{n}"], p[f"lstm.weight_hh_l{n}"]], 1)  # (4H, 2H)
            self._packed.append(_pack(w, bias(n)))
            self._xh.append(torch.zeros(1, 2 * H))
        self._head = _pack(p["head.weight"], p["head.bias"])
        self._frame = np.zeros(V, np.float32)
        self._logits = torch.empty(V)
        self.style: np.ndarray | None = None
        if style_cols is not None:
            self.set_style(default_weights(model))

    def set_style(self, weights) -> None:
        """Play in style ``weights`` (S,) from the next step on; the state is not touched."""
        cols = self._style_cols
        if cols is None:
            return
        w = as_weights(weights, cols.shape[1]).to(torch.float32)
        torch.add(self._table_base, cols @ w, out=self._table)  # (V, 4H) + (4H,)
        self.style = w.numpy()

    def new_state(self) -> State:
        shape = (self.n_layer, 1, self.n_hidden)
        return State(torch.zeros(shape), torch.zeros(shape))

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def __call__(self, x: StepInput, state: State, pos: int = 0) -> Tensor:
        H = self.n_hidden
        pos_table = self._pos_table
        linear = torch.ops.quantized.linear_dynamic
        with torch.inference_mode():
            for n in range(self.n_layer):
                h, c = state.h[n], state.c[n]  # (1, H)
                xh = self._xh[n]
                if n == 0 and self._table is not None:
                    tok = operator.index(x)
                    if not 0 <= tok < self.vocab_size:
                        raise IndexError(f"token {tok} outside vocabulary of {self.vocab_size}")
                    xh.copy_(h)
                    gates = linear(xh, self._packed[0]) + self._table[tok]  # (1, 4H)
                else:
                    n_in = xh.shape[1] - H
                    if n == 0:
                        xh[0, :n_in] = self._frame_tensor(x)
                    else:
                        xh[0, :n_in] = state.h[n - 1, 0]
                    xh[0, n_in:] = h[0]
                    gates = linear(xh, self._packed[n])  # (1, 4H)
                if n == 0 and pos_table is not None:
                    gates = gates + pos_table[check_pos(pos, len(pos_table))]  # (1, 4H)
                i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
                c.mul_(torch.sigmoid(f)).add_(torch.sigmoid(i) * torch.tanh(g))
                h.copy_(torch.sigmoid(o) * torch.tanh(c))
            self._logits.copy_(linear(state.h[-1], self._head)[0])  # (V,)
        return self._logits

    def _frame_tensor(self, x: StepInput) -> Tensor:
        if isinstance(x, Tensor):
            return x.reshape(-1).float()
        if isinstance(x, np.ndarray):
            np.copyto(self._frame, x, casting="unsafe")
        else:
            frame_keys(x, self._frame)
        return torch.from_numpy(self._frame)


def logit_error(model: LSTMModel, steps: int = 64, seed: int = 0) -> float:
    """Largest |int8 - fp32| logit difference over a random walk, relative to the fp32 range."""
    cfg = model.cfg
    rng = np.random.default_rng(seed)
    fp32, int8 = FusedStep(model), Int8Step(model)
    s32, s8 = fp32.new_state(), int8.new_state()
    worst = 0.0
    for _ in range(steps):
        if cfg.frame_input:
            x = (rng.random(cfg.vocab_size) < 0.05).astype(np.float32)
        else:
            x = int(rng.integers(cfg.vocab_size))
        p = int(rng.integers(cfg.metric_beats * cfg.metric_tpq)) if cfg.metric else 0
        a = fp32(x, s32, p).clone()
        b = int8(x, s8, p)
        span = float(a.max() - a.min()) or 1.0
        worst = max(worst, float((a - b).abs().max()) / span)
    return worst
