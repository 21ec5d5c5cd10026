"""Truncated-BPTT batches: every target once per epoch, pieces start at chunk boundaries
with a state reset, and continuing chunks carry the state."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from livegen.batches import IGNORE, iterate_chunks, plan_streams


def make_pieces(lengths):
    start = 0
    out = []
    for n in lengths:
        out.append(np.arange(start, start + n, dtype=np.int64))  # unique tokens per position
        start += n
    return out


@settings(max_examples=50, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 90), min_size=1, max_size=12),
    n_streams=st.integers(1, 5),
    seq_len=st.integers(1, 20),
)
def test_each_target_once_and_resets_at_piece_starts(lengths, n_streams, seq_len):
    pieces = make_pieces(lengths)
    streams = plan_streams(lengths, np.arange(len(pieces)), n_streams, seq_len)
    seen = []
    carried = {}  # stream -> the token its last chunk ended on
    for chunk in iterate_chunks(pieces, streams, seq_len):
        for b in range(n_streams):
            valid = chunk.valid[b]
            if not valid.any():
                continue
            x, y = chunk.x[b][valid], chunk.y[b][valid]
            assert np.all(y == x + 1)  # the target is the next token of the same piece
            if chunk.reset[b]:
                assert any(x[0] == p[0] for p in pieces)  # a piece's first token
            else:
                assert x[0] == carried[b] + 1  # continues where the stream left off
            carried[b] = x[-1]
            seen.extend(y.tolist())
        assert np.all(chunk.y[~chunk.valid] == IGNORE)
    expected = sorted(int(t) for p in pieces for t in p[1:])
    assert sorted(seen) == expected


def test_padding_to_a_step_count():
    pieces = make_pieces([10])
    streams = plan_streams([10], np.arange(1), 2, 4)
    chunks = list(iterate_chunks(pieces, streams, 4, n_steps=6))
    assert len(chunks) == 6
    assert sum(c.n_valid for c in chunks) == 9


def test_positions_are_cut_with_the_inputs():
    """Each chunk's positions are those of its inputs, across TBPTT chunk boundaries."""
    pieces = [np.arange(100, 100 + n) for n in (11, 7, 15)]
    positions = [np.arange(n) % 5 for n in (11, 7, 15)]
    streams = plan_streams([len(p) for p in pieces], np.arange(3), 2, 4)
    seen = 0
    for chunk in iterate_chunks(pieces, streams, 4, positions=positions):
        assert chunk.pos is not None and chunk.pos.shape == chunk.x.shape
        for b in range(2):
            for t in np.flatnonzero(chunk.valid[b]):
                k = int(chunk.x[b, t]) - 100  # the input's index in its piece
                assert chunk.pos[b, t] == k % 5
                seen += 1
    assert seen == sum(len(p) - 1 for p in pieces)
    assert next(iter(iterate_chunks(pieces, streams, 4))).pos is None


def test_styles_ride_with_each_stream():
    """Each stream's style is its piece's, chunk by chunk; padding streams get none."""
    pieces = [np.arange(100 * k, 100 * k + n) for k, n in enumerate((11, 7, 15), 1)]
    styles = [np.eye(3, dtype=np.float32)[i] for i in (2, 0, 1)]
    streams = plan_streams([len(p) for p in pieces], np.arange(3), 2, 4)
    seen = set()
    for chunk in iterate_chunks(pieces, streams, 4, styles=styles):
        assert chunk.style is not None and chunk.style.shape == (2, 3)
        for b in range(2):
            if not chunk.valid[b].any():
                assert not chunk.style[b].any()
                continue
            first = int(chunk.x[b, 0])
            piece = next(i for i, p in enumerate(pieces) if first in p)
            assert np.array_equal(chunk.style[b], styles[piece])
            seen.add(piece)
    assert seen == {0, 1, 2}
    assert next(iter(iterate_chunks(pieces, streams, 4))).style is None
