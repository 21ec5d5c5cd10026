"""livegen.data: pieces are read-only, the seeded split, transposition for augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from livegen.data import Piece, augment_shifts, seeded_split, transpose
from livegen.notes import make_notes
from tests.data.helpers import all_pieces, load, write_two_tracks


def test_pieces_are_read_only_and_transpose_copies(tmp_path):
    write_two_tracks(tmp_path / "a.mid")
    (piece,) = all_pieces(load(tmp_path, tmp_path))
    with pytest.raises(ValueError):
        piece.notes[0, 0] = 1
    up = transpose(piece.notes, 3)
    np.testing.assert_array_equal(up[:, 0], piece.notes[:, 0] + 3)
    np.testing.assert_array_equal(up[:, 1:], piece.notes[:, 1:])
    assert augment_shifts(2) == [-2, -1, 0, 1, 2] and augment_shifts(0) == [0]
    with pytest.raises(ValueError):
        augment_shifts(-1)


def test_seeded_split_is_80_10_10_and_deterministic():
    pieces = [Piece(f"p{i:03d}", make_notes([(60, 0, 1)])) for i in range(100)]
    a = seeded_split(pieces, seed=0)
    assert [len(x) for x in a] == [80, 10, 10]
    assert seeded_split(list(reversed(pieces)), seed=0) == a  # order of discovery is irrelevant
    assert seeded_split(pieces, seed=1) != a
    names = [p.name for part in a for p in part]
    assert sorted(names) == [p.name for p in pieces]  # a partition
    assert [len(x) for x in seeded_split(pieces[:3])] == [1, 1, 1]
