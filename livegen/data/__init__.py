"""Training data: music21 corpora, folders of MIDI/score files and bl2012 JSON -> notes arrays.

``load_pieces(source)`` turns a source into :class:`Piece` objects (a name and a notes array
in quarter notes, see :mod:`livegen.notes`) split by piece into train / valid / test. The
work is in three modules, each with one job:

- :mod:`livegen.data.sources`: what a source is (:data:`CORPORA`, a folder or file of
  ``.mid .midi .abc .xml .musicxml .mxl``, a bl2012 JSON file whose split is kept) and the
  plan for reading it;
- :mod:`livegen.data.parse`: parsing the plan's items into notes in worker processes;
- :mod:`livegen.data.cache`: the ``.npz`` cache of parsed notes, so that a reload takes
  seconds.

``load_parts(source, parts)`` gives the same pieces cut into yours and mine (:class:`Parted`,
:mod:`livegen.data.parts`) for a recipe's ``data.parts``.

Files or tunes that fail to parse are skipped with a warning and counted, never fatal; a
source with nothing to read raises :class:`DataError`. This module splits the pieces and holds
the transposition helpers of the training loop's augmentation (train pieces only). Every name
here is what other code imports: ``from livegen.data import load_pieces, DataError, ...``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livegen.data.cache import (
    PARSER_VERSION,
    cache_file,
    default_cache_dir,
    pack,
    read_cache,
    write_cache,
)
from livegen.data.parse import Result, parse_source, score_notes
from livegen.data.parts import Parted, PartsSplit, load_parts
from livegen.data.sources import (
    ABC_EXTENSIONS,
    CORPORA,
    EXTENSIONS,
    MAX_SKIPPED_LISTED,
    MIDI_EXTENSIONS,
    SCORE_EXTENSIONS,
    SPLITS,
    CorpusSpec,
    DataError,
    Item,
    plan_source,
    steps_to_notes,
)
from livegen.midifile import DRUM_CHANNEL, midi_notes
from livegen.notes import END, PITCH, START

__all__ = [
    "ABC_EXTENSIONS",
    "CORPORA",
    "DRUM_CHANNEL",
    "EXTENSIONS",
    "MAX_SKIPPED_LISTED",
    "MIDI_EXTENSIONS",
    "PARSER_VERSION",
    "SCORE_EXTENSIONS",
    "SPLITS",
    "CorpusSpec",
    "DataError",
    "Item",
    "Parted",
    "PartsSplit",
    "Piece",
    "Result",
    "Split",
    "augment_shifts",
    "default_cache_dir",
    "delay",
    "load_parts",
    "load_pieces",
    "midi_notes",
    "score_notes",
    "seeded_split",
    "steps_to_notes",
    "transpose",
]


@dataclass(frozen=True, eq=False)
class Piece:
    """One tune or file: a unique name and its notes ``(N, 4)`` in quarter notes."""

    name: str
    notes: np.ndarray

    # Arrays make the generated dataclass __eq__ ambiguous; compare by value instead.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Piece):
            return NotImplemented
        return self.name == other.name and np.array_equal(self.notes, other.notes)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Piece({self.name!r}, {len(self.notes)} notes)"


@dataclass(frozen=True)
class Split:
    """Pieces split by piece, and how they were obtained (``info``, JSON-friendly)."""

    train: list[Piece]
    valid: list[Piece]
    test: list[Piece]
    info: dict = field(default_factory=dict)


def load_pieces(
    source: str | os.PathLike,
    *,
    cache_dir: str | Path | None = None,
    jobs: int | None = None,
    progress: bool = True,
    seed: int = 0,
    limit: int | None = None,
    step_quarters: float | None = None,
) -> Split:
    """Pieces of ``source`` (corpus name, folder or file, bl2012 JSON), split by piece.

    ``limit`` keeps the first files/tunes in name order (for JSON: of each split).
    ``step_quarters`` is the length of one JSON step; by default 0.25 for files whose name
    says 16th, 0.5 for piano_midi (eighth notes in bl2012), else 1 (a quarter note).
    Without a split in the source, pieces sorted by name are split 80/10/10 by ``seed``.
    """
    t0 = time.perf_counter()
    if limit is not None and limit < 1:
        raise DataError(f"limit must be at least 1, got {limit}")
    plan = plan_source(str(source), limit, step_quarters)
    cache_path = cache_file(cache_dir, plan.slug, plan.key)
    cached = read_cache(cache_path, plan.key)
    if cached is not None:
        names, flat, offsets, splits, meta = cached
    else:
        names, notes, splits, meta = parse_source(plan, jobs, progress)
        flat, offsets = pack(notes)
        write_cache(cache_path, plan.key, names, flat, offsets, splits, meta)

    # Fresh or cached, pieces are read-only views of one buffer: training copies (transpose)
    # rather than editing in place, which would corrupt every later use of the piece.
    flat.flags.writeable = False
    notes = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    pieces = [Piece(n, a) for n, a in zip(names, notes, strict=True)]
    if plan.given_split:
        parts = [[p for p, s in zip(pieces, splits, strict=True) if s == i] for i in range(3)]
        origin = "given"
    else:
        parts = seeded_split(pieces, seed)
        origin = "seeded 80/10/10"
    info = {
        "source": str(source),
        "kind": plan.kind,
        **meta,
        "split": origin,
        "seed": None if plan.given_split else seed,
        "counts": {s: len(p) for s, p in zip(SPLITS, parts, strict=True)},
        "notes": len(flat),
        "cache_hit": cached is not None,
        "cache_file": str(cache_path),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return Split(parts[0], parts[1], parts[2], info)


def seeded_split(pieces: list[Piece], seed: int = 0) -> list[list[Piece]]:
    """Train / valid / test, 80/10/10 by piece, from pieces sorted by name (stable).

    With three or more pieces valid and test get at least one each, so that a small folder
    can still be validated.
    """
    pieces = sorted(pieces, key=lambda p: p.name)
    n = len(pieces)
    n_valid = n_test = round(0.1 * n)
    if n >= 3:
        n_valid, n_test = max(n_valid, 1), max(n_test, 1)
    order = np.random.default_rng(seed).permutation(n)
    cuts = (order[n_valid + n_test :], order[:n_valid], order[n_valid : n_valid + n_test])
    return [[pieces[i] for i in sorted(idx)] for idx in cuts]


def transpose(notes: np.ndarray, semitones: int) -> np.ndarray:
    """A copy of ``notes`` moved by ``semitones`` (codecs fold what leaves their range)."""
    out = np.array(notes, dtype=np.float64, copy=True)
    out[:, PITCH] += semitones
    return out


def delay(notes: np.ndarray, quarters: float) -> np.ndarray:
    """A copy of ``notes`` starting ``quarters`` later (silence before a piece)."""
    out = np.array(notes, dtype=np.float64, copy=True)
    out[:, START : END + 1] += quarters
    return out


def augment_shifts(max_shift: int) -> list[int]:
    """The transpositions used for augmentation: ``-max_shift .. +max_shift`` semitones."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    return list(range(-max_shift, max_shift + 1))
