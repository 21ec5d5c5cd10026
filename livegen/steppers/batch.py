"""The CPU step of B rows at once over preallocated buffers: the harmonize table's step.

The harmonize table (livegen/harmonize.py) steps up to B = 37 rows of one model together,
one token per row per call, for a few tokens after every tick. Through ``nn.LSTM`` each of
those calls cost about 1.7 ms at 2 x 256 (its own allocations, the input concatenation, a
fresh state each call); the arithmetic is two GEMMs of (B, H) x (H, 4H) per layer. This is
that arithmetic alone, as :class:`~livegen.steppers.fused.FusedStep` does it at batch 1:
gates reordered to i, f, o, g with i, f, o halved so that one tanh covers all four, layer
0's input projection (embedding, biases, and a metric model's position) a table lookup,
every buffer made once. ``torch.mm`` with ``out=`` runs the GEMMs (at B = 37 MKL's GEMM is
about 1.6x NumPy's OpenBLAS on the CPUs measured; at batch 1 NumPy wins, hence FusedStep).

All rows of a table start from one state, so the first call of a build computes the
recurrent half of each layer (h @ W_hh) once, as a single row, and adds it to every row:
the same sums, B times fewer multiply-adds (:meth:`step` with ``shared=True``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from livegen.model import LSTMModel, State
from livegen.steppers.base import check_pos, split_metric, tanh_gate_order
from livegen.style import split_style


class BatchStep:
    """Up to ``rows`` rows of one token model stepped together (one instance per thread)."""

    name = "cpu-batch-fp32"

    def __init__(self, model: LSTMModel, rows: int) -> None:
        cfg = model.cfg
        if cfg.frame_input:
            raise ValueError("BatchStep steps tokens; a frame-input model has no table rows")
        L, H, V = cfg.n_layer, cfg.n_hidden, cfg.vocab_size
        self.n_layer, self.n_hidden, self.vocab_size, self.rows = L, H, V, rows
        with torch.no_grad():
            p = {k: v.detach().to("cpu", torch.float64) for k, v in model.state_dict().items()}
        perm, scale = tanh_gate_order(H)  # i, f, o, g; i, f, o pre-halved for the tanh form

        def gates_t(w: Tensor) -> Tensor:
            """(4H, In) weights -> (In, 4H) reordered, for x (B, In) @ it."""
            return (w[perm] * scale[:, None]).T.to(torch.float32).contiguous()

        def bias(layer: int) -> Tensor:
            b = p[f"lstm.bias_ih_l{layer}"] + p[f"lstm.bias_hh_l{layer}"]  # (4H,)
            return (b[perm] * scale).to(torch.float32)

        w_ih0, style_cols = split_style(model, p["lstm.weight_ih_l0"])
        if style_cols is not None:  # no parts model has styles yet (livegen/style.py)
            raise ValueError("BatchStep has no style input: a style model has no table rows")
        w_ih0, pos_table = split_metric(model, w_ih0)
        self._pos_table = None if pos_table is None else gates_t(pos_table.T)  # (P, 4H)
        table = p["embed.weight"] @ w_ih0.T + p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
        self._table = gates_t(table.T)  # (V, 4H): layer 0's input, biases in
        self._w_hh = [gates_t(p[f"lstm.weight_hh_l{layer}"]) for layer in range(L)]  # (H, 4H)
        self._w_ih = [None] + [gates_t(p[f"lstm.weight_ih_l{k}"]) for k in range(1, L)]
        # Layers above 0 take [h below, own h] in one GEMM (one (2H, 4H) pass is about 15%
        # faster than two of (H, 4H)); the shared first call uses the halves apart.
        self._w_cat = [None] + [torch.cat([self._w_ih[k], self._w_hh[k]]) for k in range(1, L)]
        self._b = [None] + [bias(layer) for layer in range(1, L)]  # (4H,)
        self._w_head = p["head.weight"].T.to(torch.float32).contiguous()  # (H, V)
        self._b_head = p["head.bias"].to(torch.float32)  # (V,)
        # The rows' state, and the working buffers of one call (rows first, so a call on
        # the first b rows works on contiguous [:b] slices).
        self.h = torch.zeros(L, rows, H)  # (L, B, H)
        self.c = torch.zeros(L, rows, H)  # (L, B, H)
        self.logits = torch.zeros(rows, V)  # (B, V): each row's logits after its last token
        self._gates = torch.empty(rows, 4 * H)  # (B, 4H)
        self._rec = torch.empty(1, 4 * H)  # (1, 4H): a shared row's recurrent half
        self._bias = torch.empty(1, 4 * H)  # (1, 4H)
        self._hb = torch.empty(L, rows, H)  # gathered h of a call's rows
        self._cb = torch.empty(L, rows, H)  # gathered c
        self._xh = torch.empty(rows, 2 * H)  # [h below, own h] of a layer above 0
        self._tmp = torch.empty(rows, H)
        self._out = torch.empty(rows, V)

    def load(self, state: State, rows: int) -> None:
        """Every one of the first ``rows`` rows starts from ``state`` ((L, 1, H) x 2)."""
        if rows > self.rows:
            raise ValueError(f"{rows} rows asked of a BatchStep of {self.rows}")
        self.h[:, :rows].copy_(state.h.to(self.h.dtype).expand(-1, rows, -1))
        self.c[:, :rows].copy_(state.c.to(self.c.dtype).expand(-1, rows, -1))

    def step(self, tokens: Tensor, rows: Tensor | None, pos: int = 0, shared: bool = False):
        """Feed ``tokens`` (b,) int64 to ``rows`` (b,) int64, or to rows 0..b-1 when None.

        Updates those rows' state and logits in place. ``shared``: the rows' states are all
        equal (right after :meth:`load`), so each layer's recurrent half is computed once.
        """
        b = tokens.shape[0]
        H = self.n_hidden
        if rows is None:
            h, c = self.h[:, :b], self.c[:, :b]  # (L, b, H) views
        else:
            h, c = self._hb[:, :b], self._cb[:, :b]
            torch.index_select(self.h, 1, rows, out=h)
            torch.index_select(self.c, 1, rows, out=c)
        g, tmp = self._gates[:b], self._tmp[:b]  # (b, 4H), (b, H)
        sig, cand = g[:, : 3 * H], g[:, 3 * H :]  # i, f, o (sigmoids) and g (tanh)
        i, f, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H]
        for layer in range(self.n_layer):
            hl, cl = h[layer], c[layer]  # (b, H)
            if layer == 0:
                torch.index_select(self._table, 0, tokens, out=g)  # (b, 4H)
                if self._pos_table is not None:
                    g.add_(self._pos_table[check_pos(pos, len(self._pos_table))])
            else:
                bias = self._b[layer]
                if shared:  # the recurrent half of one row, added to all with the bias
                    torch.addmm(bias, hl[:1], self._w_hh[layer], out=self._bias)
                    torch.addmm(self._bias, h[layer - 1], self._w_ih[layer], out=g)
                else:
                    xh = self._xh[:b]  # (b, 2H)
                    xh[:, :H] = h[layer - 1]
                    xh[:, H:] = hl
                    torch.addmm(bias, xh, self._w_cat[layer], out=g)
            if layer == 0:
                if shared:
                    torch.mm(hl[:1], self._w_hh[0], out=self._rec)
                    g.add_(self._rec)
                else:
                    g.addmm_(hl, self._w_hh[0])
            torch.tanh(g, out=g)
            sig.mul_(0.5).add_(0.5)  # i, f, o = sigmoid of the unhalved pre-activations
            cl.mul_(f).addcmul_(i, cand)  # c = f * c + i * g
            torch.tanh(cl, out=tmp)
            torch.mul(o, tmp, out=hl)  # h = o * tanh(c)
        out = self.logits[:b] if rows is None else self._out[:b]
        torch.addmm(self._b_head, h[-1], self._w_head, out=out)  # (b, V)
        if rows is not None:
            self.h.index_copy_(1, rows, h)
            self.c.index_copy_(1, rows, c)
            self.logits.index_copy_(0, rows, out)
