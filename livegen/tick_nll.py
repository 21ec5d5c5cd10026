"""NLL per tick: what a model pays, in nats, for each tick of a piece it reads.

A codec spends several tokens on a tick (a ``poly`` tick: one per sounding voice, then
STEP), so per-token figures of two codecs do not compare; per-tick figures do. For a parts
codec the tokens of a tick that predict *livegen's* part are only some of them (``M_ON``,
``M_HOLD`` and the closing STEP; the ``Y_`` tokens and MID predict yours): ``keep`` chooses
which tokens a tick's figure sums, so that "livegen's part given yours" is the sum of my
half's tokens, teacher forced on the whole piece (bench/parts_fit.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from livegen import metric
from livegen.codecs.base import Codec
from livegen.model import LSTMModel


@torch.no_grad()
def token_nll(model: LSTMModel, tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """float64 (N,): each token's NLL given every token before it, read from a zero state
    (as training's evaluation reads a piece); the first token has no prediction: NaN."""
    tokens = np.asarray(tokens, dtype=np.int64)
    out = np.full(len(tokens), np.nan)
    if len(tokens) < 2:
        return out
    x = torch.as_tensor(tokens[None, :-1])
    pos = torch.as_tensor(np.asarray(positions, dtype=np.int64)[None, :-1])
    logits, _ = model(x, pos=pos)  # (1, N - 1, V)
    nll = F.cross_entropy(logits[0].float(), torch.as_tensor(tokens[1:]), reduction="none")
    out[1:] = nll.double().numpy()
    return out


def piece_positions(codec: Codec, tokens: np.ndarray, beats_per_bar: int) -> np.ndarray:
    """Each token's place in the bar, the piece's first tick on a bar line."""
    return metric.token_positions(codec, tokens, beats_per_bar)


def tick_nll(
    codec: Codec, tokens: np.ndarray, nll: np.ndarray, keep: np.ndarray | None = None
) -> np.ndarray:
    """float64 (ticks,): the summed NLL of each tick's tokens (those where ``keep``, a bool
    per token, is true; all by default). A tick holding a token with no prediction (the
    first) is NaN, so that it is never counted as cheap."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if len(tokens) == 0:
        return np.zeros(0)
    keep = np.ones(len(tokens), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    ticks = codec.tick_of_tokens(tokens)
    n = int(ticks[-1]) + 1
    # NaN where not kept would poison the sum: count only kept tokens, NaN included.
    kept = np.where(keep, nll, 0.0)
    out = np.zeros(n)
    np.add.at(out, ticks, np.nan_to_num(kept, nan=0.0))
    unknown = np.zeros(n, dtype=bool)
    np.logical_or.at(unknown, ticks, keep & np.isnan(nll))
    out[unknown] = np.nan
    return out
