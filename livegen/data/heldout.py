"""The held-out filter: leave out of training every piece whose melody is a benchmark piece.

The music21 Bach chorales include the BL2012 JSB valid and test chorales, so a model trained
on music21's ``bach`` and evaluated on BL2012 would be tested on what it learnt. A piece is
left out when its melody (the soprano), as pitches with repeats collapsed, equals the
soprano of a BL2012 valid or test piece, or is a transposition of it (the same intervals):
the 16th grid of the JSON cannot tell a re-struck note from a held one, so both sides are
compared as the sequence of pitch changes.

Bach set many melodies more than once, with a passing note or a repeat more or less, so an
exact match misses near copies; ``near`` (a similarity of the interval sequences, 0..1)
leaves those out too.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livegen.data.sources import DataError
from livegen.notes import PITCH, START

HELDOUT_SPLITS = ("valid", "test")


def collapsed(pitches) -> tuple[int, ...]:
    """Pitches with rests (negative) dropped and each run of one pitch kept once."""
    out: list[int] = []
    for p in pitches:
        p = int(p)
        if p >= 0 and (not out or out[-1] != p):
            out.append(p)
    return tuple(out)


def melody_of(notes: np.ndarray) -> tuple[int, ...]:
    """The collapsed pitch sequence of a melody part (the highest note where two start)."""
    if len(notes) == 0:
        return ()
    order = np.lexsort((-notes[:, PITCH], notes[:, START]))
    ordered = notes[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:, START] != ordered[:-1, START]
    return collapsed(ordered[first, PITCH])


def _similar(a: tuple[int, ...], b: tuple[int, ...], near: float) -> bool:
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    # The quick upper bounds first: most pairs are ruled out without the full comparison.
    return sm.real_quick_ratio() >= near and sm.quick_ratio() >= near and sm.ratio() >= near


def _intervals(seq: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(b - a) for a, b in zip(seq[:-1], seq[1:], strict=True))


@dataclass(frozen=True)
class Heldout:
    """The melodies of a BL2012 voices JSON's valid and test pieces, ready to match."""

    path: str
    exact: frozenset[tuple[int, ...]]
    shapes: frozenset[tuple[int, ...]]  # interval sequences: a match up to transposition

    def match(self, melody: tuple[int, ...], near: float | None = None) -> str | None:
        """``"exact"``, ``"transposed"``, ``"near"`` (with ``near``: the interval sequences
        are at least that similar, difflib's ratio) or None."""
        if len(melody) < 2:
            return None  # a note or none matches too much to mean anything
        if melody in self.exact:
            return "exact"
        shape = _intervals(melody)
        if shape in self.shapes:
            return "transposed"
        if near is not None and any(_similar(shape, s, near) for s in self.shapes):
            return "near"
        return None


def read_heldout(path: str | Path) -> Heldout:
    """The held-out melodies of a voices JSON (voice 0 of each step is the soprano)."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(
            f"exclude_heldout {path}: not a readable JSON file ({e}); give the BL2012 voices "
            "JSON (jsb_chorales_16th_voices.json) or leave exclude_heldout out"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(s), list) for s in HELDOUT_SPLITS):
        raise DataError(
            f"exclude_heldout {path}: expected lists 'valid' and 'test' of pieces "
            "(bl2012 voices format: piece = list of steps, step = [soprano, alto, tenor, bass])"
        )
    melodies = []
    for split in HELDOUT_SPLITS:
        for i, piece in enumerate(data[split]):
            try:
                melodies.append(collapsed(step[0] for step in piece if len(step)))
            except (TypeError, ValueError, IndexError):
                raise DataError(
                    f"exclude_heldout {path}: {split} piece {i} is not a list of voice steps"
                ) from None
    melodies = [m for m in melodies if len(m) >= 2]
    return Heldout(str(path), frozenset(melodies), frozenset(_intervals(m) for m in melodies))
