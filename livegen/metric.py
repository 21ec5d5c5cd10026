"""Metric position: where a tick falls in the bar, as the model is told it.

Tick ``n`` of a grid of ``ticks_per_quarter`` in a bar of ``beats_per_bar`` quarters sits
at position ``n mod (beats_per_bar * ticks_per_quarter)``: beat ``position //
ticks_per_quarter`` and sub-beat ``position % ticks_per_quarter``. The model sees a
position as two one-hots, beat (``max_beats`` wide, so one model serves every meter up to
that many beats) and sub-beat (``ticks_per_quarter`` wide), concatenated to the token
embedding. One-hots rather than sin/cos: the grid is a handful of discrete slots, each
(the downbeat above all) may want its own gate bias, and any fixed feature becomes a
table of input-projection rows for the fused step anyway, so richer costs nothing live.

Training and live play compute positions here alone, so they cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from livegen.codecs.base import Codec

MAX_BEATS = 8  # one-hot width of the beat: the longest bar a metric model knows, in quarters


def bar_ticks(ticks_per_quarter: int, beats_per_bar: int) -> int:
    """Ticks in one bar."""
    if beats_per_bar < 1 or ticks_per_quarter < 1:
        raise ValueError(
            f"beats_per_bar and ticks_per_quarter must be >= 1, got "
            f"{beats_per_bar} and {ticks_per_quarter}"
        )
    return beats_per_bar * ticks_per_quarter


def position(tick: int, ticks_per_quarter: int, beats_per_bar: int, max_beats: int) -> int:
    """The position index of tick ``tick`` (0 .. max_beats * ticks_per_quarter - 1).

    A bar longer than ``max_beats`` repeats its last beat's slots rather than fail.
    """
    p = tick % bar_ticks(ticks_per_quarter, beats_per_bar)
    return min(p, max_beats * ticks_per_quarter - ticks_per_quarter + p % ticks_per_quarter)


def positions(
    ticks: np.ndarray, ticks_per_quarter: int, beats_per_bar: int, max_beats: int
) -> np.ndarray:
    """int64 position index of each tick in ``ticks`` (as :func:`position`, vectorized)."""
    p = np.asarray(ticks, dtype=np.int64) % bar_ticks(ticks_per_quarter, beats_per_bar)
    last = max_beats * ticks_per_quarter - ticks_per_quarter
    return np.minimum(p, last + p % ticks_per_quarter)


def n_positions(ticks_per_quarter: int, max_beats: int) -> int:
    """Rows of the position table: every (beat, sub-beat) slot."""
    return max_beats * ticks_per_quarter


def n_features(ticks_per_quarter: int, max_beats: int) -> int:
    """Width of the feature vector concatenated to the token embedding."""
    return max_beats + ticks_per_quarter


def features(ticks_per_quarter: int, max_beats: int) -> np.ndarray:
    """float32 (P, F): row p is [one-hot beat | one-hot sub-beat] of position index p."""
    p = np.arange(n_positions(ticks_per_quarter, max_beats))
    out = np.zeros((len(p), n_features(ticks_per_quarter, max_beats)), dtype=np.float32)
    out[p, p // ticks_per_quarter] = 1.0
    out[p, max_beats + p % ticks_per_quarter] = 1.0
    return out


def token_positions(
    codec: Codec,
    tokens: np.ndarray,
    beats_per_bar: int,
    max_beats: int = MAX_BEATS,
    bar_start: int = 0,
) -> np.ndarray:
    """int64 (N,): the position index of each token of a batch encoding (see module doc).

    ``bar_start`` is the tick a bar begins on (a lead-in of silence puts it after 0).
    """
    ticks = codec.tick_of_tokens(tokens) - bar_start
    return positions(ticks, codec.ticks_per_quarter, beats_per_bar, max_beats)
