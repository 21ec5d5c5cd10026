"""The LSTM: a forward pass over a sequence for training, a step over one tick for playing.

``LSTMModel.forward`` runs whole chunks of ticks (cuDNN on CUDA) and carries the state
out, so truncated BPTT can carry it into the next chunk. ``LSTMModel.step`` is the same
network over one tick. Live play steps at batch 1 once per token, where eager
``nn.LSTM`` is mostly dispatch overhead, so :func:`make_stepper` hands the player the
fastest correct path: :class:`FusedStep` on the CPU, :class:`CudaGraphStep` on CUDA.
"""

from __future__ import annotations

import copy
import operator
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


@dataclass(frozen=True)
class ModelConfig:
    """Model sizes; stored in checkpoints so a model rebuilds from its file alone."""

    vocab_size: int  # tokens of the codec's vocabulary (keys for pianoroll)
    n_layer: int = 2  # stacked LSTM layers
    n_hidden: int = 256  # LSTM hidden size H
    n_embd: int = 64  # token embedding size; unused when frame_input
    dropout: float = 0.0  # between LSTM layers and before the head, in training only
    frame_input: bool = False  # pianoroll: input is a multi-hot frame (linear), head is sigmoids

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_hidden", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")


class State(NamedTuple):
    """The LSTM's memory for every layer: what the engine holds between ticks."""

    h: Tensor  # (L, B, H)
    c: Tensor  # (L, B, H)

    def detach(self) -> State:
        """Cut the graph at a chunk boundary (truncated BPTT) and keep the values."""
        return State(self.h.detach(), self.c.detach())


class LSTMModel(nn.Module):
    """Input layer -> stacked LSTM -> dropout -> linear head giving logits over the vocabulary.

    The head gives logits; softmax (tokens) or sigmoid (pianoroll keys) belongs to the
    loss and the sampler.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.frame_input:
            # No bias: the LSTM's own biases already cover a constant input.
            self.embed: nn.Module = nn.Linear(cfg.vocab_size, cfg.n_hidden, bias=False)
            n_in = cfg.n_hidden
        else:
            self.embed = nn.Embedding(cfg.vocab_size, cfg.n_embd)
            n_in = cfg.n_embd
        self.lstm = nn.LSTM(
            n_in,
            cfg.n_hidden,
            cfg.n_layer,
            batch_first=True,
            dropout=cfg.dropout if cfg.n_layer > 1 else 0.0,  # nn.LSTM warns on 1 layer
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.n_hidden, cfg.vocab_size)
        self._warned_native = False
        with torch.no_grad():
            # Forget-gate bias 1 (Jozefowicz et al. 2015): remember by default early on.
            # PyTorch gate order is i, f, g, o.
            H = cfg.n_hidden
            for layer in range(cfg.n_layer):
                getattr(self.lstm, f"bias_ih_l{layer}")[H : 2 * H].fill_(1.0)
                getattr(self.lstm, f"bias_hh_l{layer}")[H : 2 * H].zero_()

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> State:
        """Zero state for ``batch`` streams, on ``device`` (default: the weights' device)."""
        w = self.head.weight
        shape = (self.cfg.n_layer, batch, self.cfg.n_hidden)
        dev = w.device if device is None else device
        return State(
            torch.zeros(shape, device=dev, dtype=w.dtype),
            torch.zeros(shape, device=dev, dtype=w.dtype),
        )

    def forward(
        self, x: Tensor, state: State | None = None, checkpoint_segments: int = 0
    ) -> tuple[Tensor, State]:
        """Logits for every tick of ``x`` and the state after the last one.

        ``x`` is (B, T) int64 tokens, or (B, T, V) frames for ``frame_input``.
        ``checkpoint_segments`` > 0 splits T into that many segments and recomputes each
        in the backward pass (torch.utils.checkpoint) to save activation memory.
        """
        if self.cfg.frame_input:
            if x.dim() != 3:
                raise ValueError(f"frame model wants x of shape (B, T, V), got {tuple(x.shape)}")
            if not x.is_floating_point():
                x = x.to(self.head.weight.dtype)  # codecs give uint8 frames
        elif x.dim() != 2:
            raise ValueError(f"token model wants x of shape (B, T), got {tuple(x.shape)}")
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        h, c = state
        if checkpoint_segments <= 0 or not torch.is_grad_enabled():
            logits, h, c = self._segment(x, h, c)  # (B, T, V)
            return logits, State(h, c)
        native = x.is_cuda and self.training and self.lstm.dropout > 0
        if native and not self._warned_native:
            warnings.warn(
                "checkpointing with dropout between LSTM layers runs the non-cuDNN LSTM kernel "
                "(slower) so that recomputed segments see the same dropout masks",
                stacklevel=2,
            )
            self._warned_native = True
        outs = []
        for xs in torch.tensor_split(x, min(checkpoint_segments, x.shape[1]), dim=1):
            logits, h, c = checkpoint(self._segment, xs, h, c, native, use_reentrant=False)
            outs.append(logits)  # (B, T_seg, V)
        return torch.cat(outs, dim=1), State(h, c)  # (B, T, V)

    def _segment(
        self, x: Tensor, h: Tensor, c: Tensor, native: bool = False
    ) -> tuple[Tensor, Tensor, Tensor]:
        # cuDNN draws inter-layer dropout from its own state, which checkpoint cannot
        # replay; the native kernel draws from the torch generator, which it restores.
        with torch.backends.cudnn.flags(enabled=False) if native else nullcontext():
            e = self.embed(x)  # (B, T, E)
            out, (h, c) = self.lstm(e, (h, c))  # (B, T, H), (L, B, H) x2
        return self.head(self.drop(out)), h, c  # (B, T, V)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One tick through the same nn.LSTM: ``x`` (B,) tokens or (B, V) frames -> (B, V)."""
        logits, state = self(x.unsqueeze(1), state)  # (B, 1, V)
        return logits[:, 0], state  # (B, V)


# ---- stepping at batch 1 -----------------------------------------------------------------

StepInput = int | Tensor | np.ndarray | Sequence[int]


class Stepper(Protocol):
    """What the player steps: one token (or frame) in, logits (V,) out, state updated in place.

    The logits returned are the stepper's own CPU buffer, overwritten by the next call:
    copy them to keep them. A stepper is a snapshot of the model's weights when it was made.
    """

    name: str

    def new_state(self) -> State: ...

    def copy_state(self, dst: State, src: State) -> None: ...

    def __call__(self, x: StepInput, state: State) -> Tensor: ...


def _frame_keys(x: Sequence[int], out: np.ndarray) -> None:
    """Write a pianoroll token (sorted key indices) into ``out`` as a multi-hot frame."""
    out.fill(0.0)
    if len(x):
        out[list(x)] = 1.0


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
        # Row order i, f, o, g from PyTorch's i, f, g, o; i, f, o pre-halved for the tanh form.
        perm = torch.cat(
            [torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)]
        )
        scale = torch.ones(4 * H, dtype=torch.float64)
        scale[: 3 * H] = 0.5

        def gates_rows(w: Tensor) -> np.ndarray:
            w = w[perm] * (scale if w.dim() == 1 else scale[:, None])  # (4H, ...)
            return w.to(torch.float32).contiguous().numpy()

        def bias(layer: int) -> Tensor:
            return p[f"lstm.bias_ih_l{layer}"] + p[f"lstm.bias_hh_l{layer}"]  # (4H,)

        w_ih0, w_hh0 = p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"]  # (4H, E), (4H, H)
        if cfg.frame_input:
            w_in0 = w_ih0 @ p["embed.weight"]  # (4H, V): input Linear folded into W_ih0
            self._table = None
            w = [gates_rows(torch.cat([w_in0, w_hh0], dim=1))]  # (4H, V + H)
            b = [gates_rows(bias(0))]
            self._xh = [np.zeros(V + H, np.float32)]
        else:
            table = p["embed.weight"] @ w_ih0.T + bias(0)  # (V, 4H)
            self._table = gates_rows(table.T).T.copy()  # (V, 4H), rows contiguous
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

    def new_state(self) -> State:
        shape = (self.n_layer, 1, self.n_hidden)
        return State(torch.zeros(shape), torch.zeros(shape))

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def __call__(self, x: StepInput, state: State) -> Tensor:
        """Step one token (int) or frame; returns logits (V,) and updates ``state`` in place."""
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
            _frame_keys(x, out)


class TorchStep:
    """The generic batch-1 step: ``LSTMModel.step`` on a snapshot of the model, any device."""

    name = "torch-step"

    def __init__(self, model: LSTMModel, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = copy.deepcopy(model).to(self.device).eval()
        self.frame_input = model.cfg.frame_input
        self._logits = torch.empty(model.cfg.vocab_size)  # CPU: the sampler runs there
        self._frame = np.zeros(model.cfg.vocab_size, np.float32)

    def new_state(self) -> State:
        return self.model.initial_state(1, self.device)

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def __call__(self, x: StepInput, state: State) -> Tensor:
        if not self.frame_input:
            xt = torch.tensor([operator.index(x)], device=self.device)  # (1,)
        elif isinstance(x, Tensor):
            xt = x.to(self.device, torch.float32).reshape(1, -1)  # (1, V)
        else:
            if isinstance(x, np.ndarray):
                np.copyto(self._frame, x, casting="unsafe")
            else:
                _frame_keys(x, self._frame)
            xt = torch.from_numpy(self._frame).to(self.device).reshape(1, -1)  # (1, V)
        with torch.inference_mode():
            logits, new = self.model.step(xt, state)  # (1, V)
            state.h.copy_(new.h)
            state.c.copy_(new.c)
            self._logits.copy_(logits[0])
        return self._logits


def cell_step(weights: CellWeights, x: Tensor, h: Tensor, c: Tensor) -> Tensor:
    """One tick of the LSTM by hand, in place on ``h``, ``c`` (L, 1, H); returns logits (V,).

    ``x`` is a (1,) token index or a (1, V) frame. Only fixed-shape tensor operations, no
    Python branching on values: the CUDA graph step captures exactly this.
    """
    # (1, H) for a frame through the input Linear, (1, E) for a token's embedding row
    inp = x @ weights.embed.T if weights.frame_input else weights.embed.index_select(0, x)
    for layer, (w_ih, w_hh, b) in enumerate(weights.layers):
        gates = torch.addmm(b, inp, w_ih.T) + h[layer] @ w_hh.T  # (1, 4H)
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

    @classmethod
    def of(cls, model: LSTMModel, device: torch.device | str) -> CellWeights:
        p = {k: v.detach().to(device, torch.float32) for k, v in model.state_dict().items()}
        layers = tuple(
            (
                p[f"lstm.weight_ih_l{n}"].contiguous(),
                p[f"lstm.weight_hh_l{n}"].contiguous(),
                (p[f"lstm.bias_ih_l{n}"] + p[f"lstm.bias_hh_l{n}"]).contiguous(),
            )
            for n in range(model.cfg.n_layer)
        )
        return cls(
            model.cfg.frame_input, p["embed.weight"], layers, p["head.weight"], p["head.bias"]
        )


class CudaGraphStep:
    """The CUDA batch-1 step: :func:`cell_step` captured once per state as a CUDA graph.

    A tick then costs one graph launch over static buffers instead of a few dozen kernel
    launches. A graph reads and writes fixed addresses, so each state object (the
    Player holds two, its state and its plan's fork) gets its own graph, captured on
    first use. The input goes into a static buffer before the launch; the logits come
    back to the CPU, where the sampler runs.
    """

    name = "cuda-graph"
    MAX_GRAPHS = 4  # a reset makes new states; older graphs are dropped

    def __init__(self, model: LSTMModel, device: torch.device | str = "cuda") -> None:
        self.device = torch.device(device)
        cfg = model.cfg
        self.cfg = cfg
        self.frame_input = cfg.frame_input
        self.weights = CellWeights.of(model, self.device)
        if cfg.frame_input:
            self._x = torch.zeros(1, cfg.vocab_size, device=self.device)  # (1, V)
            self._host = torch.zeros(1, cfg.vocab_size).pin_memory()
        else:
            self._x = torch.zeros(1, dtype=torch.long, device=self.device)  # (1,)
            self._host = torch.zeros(1, dtype=torch.long).pin_memory()
        self._frame = np.zeros(cfg.vocab_size, np.float32)
        self._logits = torch.empty(cfg.vocab_size).pin_memory()
        self._graphs: dict[int, tuple[State, torch.cuda.CUDAGraph, Tensor]] = {}

    def new_state(self) -> State:
        shape = (self.cfg.n_layer, 1, self.cfg.n_hidden)
        return State(torch.zeros(shape, device=self.device), torch.zeros(shape, device=self.device))

    def copy_state(self, dst: State, src: State) -> None:
        dst.h.copy_(src.h)
        dst.c.copy_(src.c)

    def _graph(self, state: State) -> tuple[torch.cuda.CUDAGraph, Tensor]:
        entry = self._graphs.get(id(state.h))
        if entry is not None and entry[0].h is state.h and entry[0].c is state.c:
            return entry[1], entry[2]
        saved = (state.h.clone(), state.c.clone())
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(3):  # warm-up outside capture, as CUDA graphs require
                cell_step(self.weights, self._x, state.h, state.c)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph):
            out = cell_step(self.weights, self._x, state.h, state.c)  # (V,) static output
        state.h.copy_(saved[0])
        state.c.copy_(saved[1])
        if len(self._graphs) >= self.MAX_GRAPHS:
            self._graphs.pop(next(iter(self._graphs)))
        self._graphs[id(state.h)] = (state, graph, out)
        return graph, out

    def __call__(self, x: StepInput, state: State) -> Tensor:
        graph, out = self._graph(state)
        if not self.frame_input:
            self._host[0] = operator.index(x)
        elif isinstance(x, Tensor):
            self._host[0].copy_(x.reshape(-1))
        else:
            if isinstance(x, np.ndarray):
                np.copyto(self._frame, x, casting="unsafe")
            else:
                _frame_keys(x, self._frame)
            self._host[0].copy_(torch.from_numpy(self._frame))
        self._x.copy_(self._host, non_blocking=True)
        graph.replay()
        self._logits.copy_(out)  # waits for the graph: the sampler needs the logits
        return self._logits


def check_stepper(stepper: Stepper, model: LSTMModel, steps: int = 8, tol: float = 1e-3) -> float:
    """Largest logit difference between ``stepper`` and the model's forward on the CPU."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(0)
    if cfg.frame_input:
        x = (torch.rand(1, steps, cfg.vocab_size, generator=gen) < 0.1).float()  # (1, T, V)
    else:
        x = torch.randint(0, cfg.vocab_size, (1, steps), generator=gen)  # (1, T)
    cpu = copy.deepcopy(model).to("cpu").eval()
    with torch.inference_mode():
        ref, _ = cpu(x)  # (1, T, V)
    state = stepper.new_state()
    worst = 0.0
    for t in range(steps):
        xt = x[0, t] if cfg.frame_input else int(x[0, t])
        got = stepper(xt, state)
        worst = max(worst, float((got.cpu() - ref[0, t]).abs().max()))
    return worst


PRECISIONS = ("auto", "fp32", "int8")


def make_stepper(
    model: LSTMModel, device: torch.device | str = "cpu", precision: str = "auto"
) -> Stepper:
    """The fastest correct batch-1 stepper for ``device`` ("cpu", "cuda[:n]" or "auto").

    CPU: :class:`FusedStep` ("cpu-fused-fp32"), or with ``precision`` "int8" the int8
    step ("cpu-int8", :mod:`livegen.int8`); "auto" takes int8 only for a model whose
    weights no longer fit in cache and whose int8 logits stay within 1% of fp32's.
    CUDA: :class:`CudaGraphStep` ("cuda-graph"), checked against the model's own forward
    before use; if capture fails or the check does not hold, :class:`TorchStep`
    ("torch-step") with a warning.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    kind = torch.device(device).type
    if kind == "cpu":
        from livegen import int8

        if precision == "int8" or (
            precision == "auto"
            and int8.weight_bytes(model) > int8.BIG
            and int8.logit_error(model, steps=16) <= int8.MAX_LOGIT_ERROR
        ):
            return int8.Int8Step(model)
        return FusedStep(model)
    if kind == "cuda":
        try:
            stepper = CudaGraphStep(model, device)
            worst = check_stepper(stepper, model)
            if worst <= 1e-3:
                return stepper
            problem = f"its logits differ from the model's by {worst:.2g}"
        except Exception as err:  # a driver or capture problem must not stop play
            problem = f"{type(err).__name__}: {err}"
        warnings.warn(f"CUDA graph step unusable ({problem}); using torch-step", stacklevel=2)
    return TorchStep(model, device)
