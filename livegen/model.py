"""The LSTM: a forward pass over a sequence for training, a step over one tick for playing.

``LSTMModel.forward`` runs whole chunks of ticks (cuDNN on CUDA) and carries the state
out, so truncated BPTT can carry it into the next chunk. ``LSTMModel.step`` is the same
network over one tick. The fast batch-1 paths that live play uses over these weights
live in :mod:`livegen.steppers`; this module knows nothing of them.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from livegen import metric
from livegen.metric import MAX_BEATS


@dataclass(frozen=True)
class ModelConfig:
    """Model sizes; stored in checkpoints so a model rebuilds from its file alone."""

    vocab_size: int  # tokens of the codec's vocabulary (keys for pianoroll)
    n_layer: int = 2  # stacked LSTM layers
    n_hidden: int = 256  # LSTM hidden size H
    n_embd: int = 64  # token embedding size; unused when frame_input
    dropout: float = 0.0  # between LSTM layers and before the head, in training only
    frame_input: bool = False  # pianoroll: input is a multi-hot frame (linear), head is sigmoids
    # Metric position (livegen/metric.py): each token's beat and sub-beat in the bar go in
    # beside its embedding. Off unless a recipe asks; absent from older checkpoints = off.
    metric: bool = False
    metric_tpq: int = 4  # the codec's ticks_per_quarter: width of the sub-beat one-hot
    metric_beats: int = MAX_BEATS  # width of the beat one-hot: the longest bar, in quarters
    # Style input (livegen/style.py): one name per training corpus, in input-column order.
    # A weight per style (one-hot in training, any convex mix live) goes in after the metric
    # features. Absent from older checkpoints = no style input.
    styles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_hidden", "n_embd", "metric_tpq", "metric_beats"):
            if getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")
        object.__setattr__(self, "styles", tuple(self.styles))  # a list from a checkpoint
        if len(set(self.styles)) != len(self.styles) or not all(self.styles):
            raise ValueError(f"ModelConfig.styles must be distinct names, got {self.styles}")
        if self.styles and self.frame_input:
            # The steppers fold a style into layer 0's token table; frames have none.
            raise ValueError("ModelConfig.styles needs a token model, not frame_input")


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
        if cfg.metric:
            # Not a parameter and not saved: the one-hots follow from the config alone.
            feats = torch.from_numpy(metric.features(cfg.metric_tpq, cfg.metric_beats))
            self.register_buffer("metric_features", feats, persistent=False)  # (P, F)
            n_in += feats.shape[1]
        n_in += len(cfg.styles)  # the style weights come last: steppers split them off there
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
        self,
        x: Tensor,
        state: State | None = None,
        checkpoint_segments: int = 0,
        pos: Tensor | None = None,
        style: Tensor | None = None,
    ) -> tuple[Tensor, State]:
        """Logits for every tick of ``x`` and the state after the last one.

        ``x`` is (B, T) int64 tokens, or (B, T, V) frames for ``frame_input``. ``pos``
        (B, T) int64 is each token's position index (livegen/metric.py); a metric model
        needs it, any other ignores it. ``style`` (B, S) float is each stream's weight per
        style, constant over the chunk (a style model needs it, any other ignores it).
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
        if not self.cfg.metric:
            pos = None
        elif pos is None or pos.shape != x.shape[:2]:
            got = None if pos is None else tuple(pos.shape)
            raise ValueError(f"metric model wants pos of shape {tuple(x.shape[:2])}, got {got}")
        style = self._check_style(style, x.shape[0])
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        h, c = state
        if checkpoint_segments <= 0 or not torch.is_grad_enabled():
            logits, h, c = self._segment(x, h, c, False, pos, style)  # (B, T, V)
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
        n_seg = min(checkpoint_segments, x.shape[1])
        pos_segs = [None] * n_seg if pos is None else torch.tensor_split(pos, n_seg, dim=1)
        for xs, ps in zip(torch.tensor_split(x, n_seg, dim=1), pos_segs, strict=True):
            logits, h, c = checkpoint(
                self._segment, xs, h, c, native, ps, style, use_reentrant=False
            )
            outs.append(logits)  # (B, T_seg, V)
        return torch.cat(outs, dim=1), State(h, c)  # (B, T, V)

    def _check_style(self, style: Tensor | None, batch: int) -> Tensor | None:
        n = len(self.cfg.styles)
        if not n:
            return None
        if style is None or tuple(style.shape) != (batch, n):
            got = None if style is None else tuple(style.shape)
            raise ValueError(f"style model wants style of shape {(batch, n)}, got {got}")
        return style

    def _segment(
        self,
        x: Tensor,
        h: Tensor,
        c: Tensor,
        native: bool = False,
        pos: Tensor | None = None,
        style: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        # cuDNN draws inter-layer dropout from its own state, which checkpoint cannot
        # replay; the native kernel draws from the torch generator, which it restores.
        with torch.backends.cudnn.flags(enabled=False) if native else nullcontext():
            e = self.embed(x)  # (B, T, E)
            if pos is not None:
                feats = self.metric_features[pos].to(e.dtype)  # (B, T, F)
                e = torch.cat([e, feats], dim=-1)  # (B, T, E + F)
            if style is not None:
                w = style.to(e.dtype)[:, None, :].expand(-1, e.shape[1], -1)  # (B, T, S)
                e = torch.cat([e, w], dim=-1)  # (B, T, E + F + S)
            out, (h, c) = self.lstm(e, (h, c))  # (B, T, H), (L, B, H) x2
        return self.head(self.drop(out)), h, c  # (B, T, V)

    def step(
        self, x: Tensor, state: State, pos: Tensor | None = None, style: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """One tick through the same nn.LSTM: ``x`` (B,) tokens or (B, V) frames -> (B, V).

        ``pos`` (B,) is the token's position index (metric models only); ``style`` (B, S)
        the style weights (style models only).
        """
        p = None if pos is None else pos.unsqueeze(1)  # (B, 1)
        logits, state = self(x.unsqueeze(1), state, pos=p, style=style)  # (B, 1, V)
        return logits[:, 0], state  # (B, V)
