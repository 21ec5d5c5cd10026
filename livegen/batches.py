"""Truncated-BPTT batches: pieces laid end to end in parallel streams, cut into chunks.

Each of the B streams plays whole pieces one after another. A piece spans as many
chunks of ``seq_len`` steps as it needs, and the LSTM state is carried from one chunk
to the next; a new piece always starts at a chunk boundary, where its stream's state
is reset, so every piece is learnt from zero state exactly as validation measures it
(the tail of the chunk before is padding that the loss ignores).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

IGNORE = -100  # target index that cross-entropy skips


@dataclass(frozen=True)
class Chunk:
    """One training step: inputs, targets, which positions count, which streams restart."""

    x: np.ndarray  # (B, T) int64 tokens, or (B, T, K) float32 frames
    y: np.ndarray  # (B, T) int64 (IGNORE where padded), or (B, T, K) float32 frames
    valid: np.ndarray  # (B, T) bool: positions that have a target
    reset: np.ndarray  # (B,) bool: zero this stream's state before the chunk
    n_valid: int
    pos: np.ndarray | None = None  # (B, T) int64 position index of each input (metric models)
    style: np.ndarray | None = None  # (B, S) float32 style input of each stream (style models)


def plan_streams(lengths: Sequence[int], order: np.ndarray, n_streams: int, seq_len: int):
    """Deal pieces (in ``order``) to streams, each piece to the stream with least work.

    Returns per stream a list of ``(piece, offset)`` chunk starts.
    """
    streams: list[list[tuple[int, int]]] = [[] for _ in range(n_streams)]
    for piece in order:
        n_targets = lengths[piece] - 1
        if n_targets <= 0:
            continue
        b = min(range(n_streams), key=lambda i: len(streams[i]))
        streams[b].extend((int(piece), off) for off in range(0, n_targets, seq_len))
    return streams


def iterate_chunks(
    sequences: Sequence[np.ndarray],
    streams: list[list[tuple[int, int]]],
    seq_len: int,
    n_steps: int | None = None,
    positions: Sequence[np.ndarray] | None = None,
    styles: Sequence[np.ndarray] | None = None,
) -> Iterator[Chunk]:
    """Yield the chunks of one epoch over ``sequences`` (token arrays or frame arrays).

    ``streams`` comes from :func:`plan_streams`. ``n_steps`` pads the epoch with empty
    chunks up to that many steps (so every process of a distributed run steps alike).
    ``positions`` (one int64 array per sequence, as long as it) rides along, cut exactly
    as the inputs are, so each chunk's inputs keep their place in the bar. ``styles`` (one
    (S,) float32 style input per sequence) gives each stream its piece's style; a stream
    holds one piece per chunk, so the style is constant over the chunk.
    """
    lengths = [len(s) for s in sequences]
    n_streams = len(streams)
    steps = max((len(s) for s in streams), default=0)
    if n_steps is not None:
        steps = max(steps, n_steps)
    frames = sequences[0].ndim == 2 if len(sequences) else False
    width = sequences[0].shape[1] if frames else 0
    for k in range(steps):
        if frames:
            x = np.zeros((n_streams, seq_len, width), dtype=np.float32)
            y = np.zeros((n_streams, seq_len, width), dtype=np.float32)
        else:
            x = np.zeros((n_streams, seq_len), dtype=np.int64)
            y = np.full((n_streams, seq_len), IGNORE, dtype=np.int64)
        pos = None if positions is None else np.zeros((n_streams, seq_len), dtype=np.int64)
        style = None if styles is None else np.zeros((n_streams, len(styles[0])), np.float32)
        valid = np.zeros((n_streams, seq_len), dtype=bool)
        reset = np.ones(n_streams, dtype=bool)
        for b, stream in enumerate(streams):
            if k >= len(stream):
                continue
            piece, off = stream[k]
            seq = sequences[piece]
            n = min(seq_len, lengths[piece] - 1 - off)
            x[b, :n] = seq[off : off + n]
            y[b, :n] = seq[off + 1 : off + 1 + n]
            if pos is not None:
                pos[b, :n] = positions[piece][off : off + n]
            if style is not None:
                style[b] = styles[piece]
            valid[b, :n] = True
            reset[b] = off == 0
        yield Chunk(x, y, valid, reset, int(valid.sum()), pos, style)
