"""The CPU batch-1 step in NumPy: what the player runs on a CPU for an fp32 model.

Live play steps one token at a time, where eager ``nn.LSTM`` is mostly dispatch
overhead; this step does the same arithmetic as a few GEMVs over preallocated buffers.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch import Tensor

from livegen.model import LSTMModel, State
from livegen.steppers.base import (
    StepInput,
    check_pos,
    frame_keys,
    split_metric,
    tanh_gate_order,
)
from livegen.style import as_weights, default_weights, split_style


class FusedStep:
    """The CPU batch-1 step over a snapshot of the weights, without nn.LSTM.

    Per layer: one GEMV over the concatenated [x, h] with W = [W_ih | W_hh] into a
    preallocated gates buffer, then the cell update in place. Layer 0 of a token model
    needs no input GEMV at all: embedding @ W_ih0^T plus both biases is precomputed into
    a table (V, 4H), so its input projection is a row lookup. A frame model folds its
    input Linear into W_ih0 and runs one GEMV over [frame, h].

    Gates are reordered to i, f, o, g and the i, f, o rows are scaled by 1/2, so that
    sigmoid(z) = (1 + tanh(z / 2)) / 2 and one tanh covers all four gates. The arithmetic
    runs in NumPy: at this size its BLAS GEMV and its per-call overhead are both about
    half of torch's on the CPUs measured (bench/step_latency.py). State tensors are
    updated in place through NumPy views of their memory. Buffers are shared between
    calls: one FusedStep per thread.
    """

    name = "cpu-fused-fp32"

    def __init__(self, model: LSTMModel) -> None:
        cfg = model.cfg
        L, H, V = cfg.n_layer, cfg.n_hidden, cfg.vocab_size
        self.n_layer, self.n_hidden, self.vocab_size = L, H, V
        self.frame_input = cfg.frame_input
        with torch.no_grad():
            p = {k: v.detach().to("cpu", torch.float64) for k, v in model.state_dict().items()}
        perm, scale = tanh_gate_order(H)  # i, f, o, g; i, f, o pre-halved for the tanh form

        def gates_rows(w: Tensor) -> np.ndarray:
            w = w[perm] * (scale if w.dim() == 1 else scale[:, None])  # (4H, ...)
            return w.to(torch.float32).contiguous().numpy()

        def bias(layer: int) -> Tensor:
            return p[f"lstm.bias_ih_l{layer}"] + p[f"lstm.bias_hh_l{layer}"]  # (4H,)

        w_ih0, w_hh0 = p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"]  # (4H, E), (4H, H)
        # Style input: its columns times the style weights are one constant row of the
        # token table, rewritten by set_style (livegen/style.py); the step does not see it.
        w_ih0, style_cols = split_style(model, w_ih0)
        self._style_cols = None if style_cols is None else gates_rows(style_cols)  # (4H, S)
        # Metric input: its projection is a table (P, 4H) of rows, one added per step.
        w_ih0, pos_table = split_metric(model, w_ih0)
        self._pos_table = None if pos_table is None else gates_rows(pos_table.T).T.copy()
        if cfg.frame_input:
            w_in0 = w_ih0 @ p["embed.weight"]  # (4H, V): input Linear folded into W_ih0
            self._table = None
            w = [gates_rows(torch.cat([w_in0, w_hh0], dim=1))]  # (4H, V + H)
            b = [gates_rows(bias(0))]
            self._xh = [np.zeros(V + H, np.float32)]
        else:
            table = p["embed.weight"] @ w_ih0.T + bias(0)  # (V, 4H)
            self._table = gates_rows(table.T).T.copy()  # (V, 4H), rows contiguous
            self._table_base = self._table.copy()  # without the style's row
            w = [gates_rows(w_hh0)]  # (4H, H)
            b = [np.zeros(0, np.float32)]  # in the table
            self._xh = [np.zeros(0, np.float32)]  # h0 is used directly
        for layer in range(1, L):
            w_l = torch.cat([p[f"lstm.weight_ih_l{layer}"], p[f"lstm.weight_hh_l{layer}"]], 1)
            w.append(gates_rows(w_l))  # (4H, 2H)
            b.append(gates_rows(bias(layer)))  # (4H,)
            self._xh.append(np.zeros(2 * H, np.float32))  # [h of the layer below, own h]
        self._w, self._b = w, b
        self._w_head = p["head.weight"].to(torch.float32).contiguous().numpy()  # (V, H)
        self._b_head = p["head.bias"].to(torch.float32).numpy()  # (V,)
        self._gates = g = np.empty(4 * H, np.float32)
        self._tmp = np.empty(H, np.float32)
        # Views of the gates buffer, made once: i, f, o (sigmoids) and g (tanh).
        self._sig, self._i, self._f = g[: 3 * H], g[:H], g[H : 2 * H]
        self._o, self._cand = g[2 * H : 3 * H], g[3 * H :]
        self._logits = torch.empty(V)  # returned each call; NumPy writes through the view
        self._logits_np = self._logits.numpy()
        self._half = np.float32(0.5)
        self._views: dict[int, tuple[Tensor, Tensor, np.ndarray, np.ndarray]] = {}
        self.style: np.ndarray | None = None  # the style input now (style models only)
        if self._style_cols is not None:
            self.set_style(default_weights(model))

    def set_style(self, weights) -> None:
        """Play in style ``weights`` (S,) from the next step on; the state is not touched."""
        cols = self._style_cols
        if cols is None:
            return
        w = as_weights(weights, cols.shape[1]).numpy().astype(np.float32)
        np.add(self._table_base, cols @ w, out=self._table)  # (V, 4H) + (4H,)
        self.style = w

    def new_state(self) -> State:
        shape = (self.n_layer, 1, self.n_hidden)
        return State(torch.zeros(shape), torch.zeros(shape))

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def __call__(self, x: StepInput, state: State, pos: int = 0) -> Tensor:
        """Step one token (int) or frame; returns logits (V,) and updates ``state`` in place."""
        pos_table = self._pos_table
        dot, add, mul, tanh = np.dot, np.add, np.multiply, np.tanh
        H, half = self.n_hidden, self._half
        views = self._views.get(id(state.h))
        if views is None or views[0] is not state.h or views[1] is not state.c:
            views = self._view(state)
        hs, cs = views[2], views[3]  # (L, 1, H) views of the state's memory
        g, tmp = self._gates, self._tmp  # (4H,), (H,)
        sig, i, f, o, cand = self._sig, self._i, self._f, self._o, self._cand  # views of g
        for layer in range(self.n_layer):
            h, c = hs[layer, 0], cs[layer, 0]  # (H,)
            if layer == 0 and self._table is not None:
                tok = operator.index(x)
                if not 0 <= tok < self.vocab_size:
                    raise IndexError(f"token {tok} outside vocabulary of {self.vocab_size}")
                dot(self._w[0], h, out=g)  # (4H,)
                add(g, self._table[tok], out=g)
            else:
                xh = self._xh[layer]  # (In + H,)
                n_in = xh.shape[0] - H
                if layer == 0:
                    self._put_frame(x, xh[:n_in])
                else:
                    xh[:n_in] = hs[layer - 1, 0]
                xh[n_in:] = h
                dot(self._w[layer], xh, out=g)  # (4H,)
                add(g, self._b[layer], out=g)
            if layer == 0 and pos_table is not None:
                add(g, pos_table[check_pos(pos, len(pos_table))], out=g)
            tanh(g, out=g)
            mul(sig, half, out=sig)
            add(sig, half, out=sig)  # i, f, o = sigmoid of the unhalved pre-activations
            mul(c, f, out=c)
            mul(i, cand, out=tmp)
            add(c, tmp, out=c)  # c = f * c + i * g
            tanh(c, out=tmp)
            mul(o, tmp, out=h)  # h = o * tanh(c)
        dot(self._w_head, hs[-1, 0], out=self._logits_np)  # (V,)
        add(self._logits_np, self._b_head, out=self._logits_np)
        return self._logits

    def _view(self, state: State) -> tuple[Tensor, Tensor, np.ndarray, np.ndarray]:
        # Tensor.numpy() costs about as much as a layer's elementwise work, and the player
        # steps the same two states (its state and its planning fork) all session long.
        if len(self._views) >= 8:
            self._views.clear()
        views = (state.h, state.c, state.h.numpy(), state.c.numpy())
        self._views[id(state.h)] = views
        return views

    def _put_frame(self, x: StepInput, out: np.ndarray) -> None:
        if isinstance(x, Tensor):
            np.copyto(out, x.detach().cpu().numpy(), casting="unsafe")
        elif isinstance(x, np.ndarray):
            np.copyto(out, x, casting="unsafe")
        else:
            frame_keys(x, out)
