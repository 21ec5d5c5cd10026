"""A split's pieces as codec sequences, for training: encoded once, transposed on demand.

The same codec object encodes for training and listens live, so these are the tokens the
Player steps; ``positions`` gives each token's place in the bar for models with metric input.
"""

from __future__ import annotations

import numpy as np

from livegen import metric
from livegen.codecs.base import Codec
from livegen.data import Piece, delay
from livegen.data.parts import encode_piece
from livegen.data.styles import one_hot


class Encoded:
    """A split's pieces as codec sequences; train-only transpositions made on demand."""

    def __init__(
        self, codec: Codec, pieces, shifts: list[int], lead_in: int = 0, beats_per_bar: int = 4
    ) -> None:
        self.codec = codec
        self.pieces = pieces
        self.shifts = shifts
        self.lead_in = lead_in
        self.lead = lead_in / codec.ticks_per_quarter  # quarter notes of silence before a piece
        self._memo: dict[tuple[int, int], np.ndarray] = {}
        # Each piece's own meter where its source gives one, else the recipe's.
        self.meters = [getattr(p, "beats_per_bar", None) or beats_per_bar for p in pieces]
        # Each piece's style index where it has one (livegen/data/styles.py).
        self.styles = [getattr(p, "style", 0) for p in pieces]

    def get(self, i: int, shift: int = 0) -> np.ndarray:
        key = (i, shift)
        seq = self._memo.get(key)
        if seq is None:
            piece = self.pieces[i]
            if self.lead:  # a single-stream Piece: the config refuses lead_in with parts
                piece = Piece(piece.name, delay(piece.notes, self.lead))
            seq = encode_piece(self.codec, piece, shift)
            if seq.ndim == 2:
                seq = seq.astype(np.float32)
            self._memo[key] = seq
        return seq

    def epoch(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Every piece once, each at a random transposition."""
        return [self.get(i, int(rng.choice(self.shifts))) for i in range(len(self.pieces))]

    def plain(self) -> list[np.ndarray]:
        return [self.get(i) for i in range(len(self.pieces))]

    def style_inputs(self, n_styles: int) -> list[np.ndarray] | None:
        """Each piece's style input, one-hot (S,), in piece order; None without styles."""
        if not n_styles:
            return None
        return [one_hot(s, n_styles) for s in self.styles]

    def positions(self, seqs: list[np.ndarray]) -> list[np.ndarray]:
        """Position index per token of ``seqs`` (one per piece, in piece order)."""
        # A piece's first bar starts after its lead-in, at its first note's tick.
        return [
            metric.token_positions(self.codec, s, m, bar_start=self.lead_in)
            for s, m in zip(seqs, self.meters, strict=True)
        ]
