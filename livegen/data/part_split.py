"""Cutting one piece into its labelled parts, by score voice, MIDI track or channel, or top.

What a piece's parts are depends only on the split kind, not on the recipe's choice of
yours and mine, so this is what the cache holds; :mod:`livegen.data.parts` picks yours and
mine from it afterwards. Every function returns ``Cut``: ``(parts, beats_per_bar)`` with
parts in the piece's order as ``(label, notes)``. Times are shifted so that bar lines fall
on multiples of ``beats_per_bar`` quarter notes (a chorale's pickup bar starts late), since
the model is told where each tick falls in the bar.

A piece that cannot be cut this way raises :class:`Unsplittable` with the reason, which the
loader counts and reports; it is never fatal for the rest of the source.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from livegen.data.parse import expand_score_repeats, parse_music21, score_notes
from livegen.data.sources import Item, steps_to_notes
from livegen.midifile import midi_groups, midi_notes, read_midi
from livegen.notes import END, PITCH, START, sort_notes

Cut = tuple[list[tuple[str, np.ndarray]], int]
# What a worker sends back: name, the cut or None, and why it failed (or None).
CutResult = tuple[str, Cut | None, str | None]

TOP, REST = "top", "rest"
SATB = ("soprano", "alto", "tenor", "bass")
# The start of the reason a MIDI file with one track gives, so the loader can tell a folder
# where every file has one track (a wrong split) from one odd file.
ONE_TRACK = "one track with notes"


class Unsplittable(ValueError):
    """A piece that the chosen split cannot cut into parts (the message says why)."""


def top_split(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(top, rest)``: at each onset, the note struck there goes to top when it is the
    highest sounding at that moment (a held higher note keeps the melody); all else is
    rest. Every note lands in exactly one of the two."""
    notes = sort_notes(np.asarray(notes, dtype=np.float64).reshape(-1, 4))
    is_top = np.zeros(len(notes), dtype=bool)
    starts = notes[:, START]
    for onset in np.unique(starts):
        struck = np.flatnonzero(starts == onset)
        best = struck[np.argmax(notes[struck, PITCH])]
        held = (starts < onset) & (notes[:, END] > onset)
        if not np.any(notes[held, PITCH] > notes[best, PITCH]):
            is_top[best] = True
    return notes[is_top], notes[~is_top]


def cut_item(args: tuple[str, Item]) -> CutResult:
    """One work item cut by ``split`` (run in a worker process); failures are reasons."""
    split, (kind, name, payload) = args
    try:
        cut = _cut_midi(split, payload) if kind == "midi" else _cut_score(split, kind, payload)
        return name, cut, None
    except Exception as e:  # noqa: BLE001  # any failure skips this one file or tune only
        msg = " ".join(f"{type(e).__name__}: {e}".split())
        if isinstance(e, Unsplittable):
            msg = str(e)
        return name, None, msg[:300]


def cut_steps(split: str, steps: list, step_quarters: float) -> Cut:
    """A bl2012 piece (steps of pitches) cut by ``voices`` (one column each: S A T B when
    four) or ``top``; the JSON has no meter, so 4 beats per bar."""
    if split == "top":
        return _top_parts(steps_to_notes(steps, step_quarters)), 4
    if split != "voices":
        raise Unsplittable(f"a JSON piece has no {split}: use split voices or top")
    widths = {len(s) for s in steps}
    if len(widths) != 1 or 0 in widths:
        raise Unsplittable("steps do not all hold the same number of voices: use split top")
    (n,) = widths
    labels = SATB if n == 4 else tuple(f"voice {i + 1}" for i in range(n))
    voices = [steps_to_notes([[s[i]] for s in steps], step_quarters) for i in range(n)]
    return list(zip(labels, voices, strict=True)), 4


def _top_parts(notes: np.ndarray) -> list[tuple[str, np.ndarray]]:
    top, rest = top_split(notes)
    return [(TOP, top), (REST, rest)]


def _cut_midi(split: str, path: str) -> Cut:
    beats = max(1, round(read_midi(path).beats_per_bar))
    if split == "top":
        return _top_parts(midi_notes(path)), beats
    if split == "voices":
        raise Unsplittable("a MIDI file has no score voices: use split tracks (names match too)")
    groups = midi_groups(path, "track" if split == "tracks" else "channel")
    if split == "tracks" and len(groups) < 2:
        raise Unsplittable(f"{ONE_TRACK}: split by channels or top instead")
    if split == "channels" and len(groups) < 2:
        raise Unsplittable("one channel with notes: split by tracks or top instead")
    return [(f"{n} {name}".strip(), notes) for n, name, notes in groups], beats


def _cut_score(split: str, kind: str, payload: str) -> Cut:
    from music21 import stream

    if split in ("tracks", "channels"):
        raise Unsplittable(f"split {split} reads MIDI files; a score has voices: use voices or top")
    parsed = parse_music21(kind, payload)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        score = next(iter(parsed.scores)) if isinstance(parsed, stream.Opus) else parsed
        beats, pickup = _meter(score)
        score = expand_score_repeats(score)
        if split == "top":
            parts = _top_parts(score_notes(score, expand_repeats=False))
        else:
            parts = [
                (_part_label(p, i), score_notes(p, expand_repeats=False))
                for i, p in enumerate(score.parts)
            ]
    for _, notes in parts:
        notes[:, START : END + 1] += pickup
    return parts, beats


def _part_label(part, index: int) -> str:
    return str(part.partName or part.id or f"part {index + 1}").strip()


def _meter(score) -> tuple[int, float]:
    """Quarter notes per bar (from the first time signature, 4 without one) and the length
    of the pickup's missing beats, so that bar lines fall on multiples of the bar."""
    from music21 import meter

    sig = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    beats = max(1, round(float(sig.barDuration.quarterLength))) if sig is not None else 4
    parts = list(getattr(score, "parts", [])) or [score]
    first = next(iter(parts[0].getElementsByClass("Measure")), None)
    pickup = float(first.paddingLeft) if first is not None else 0.0
    return beats, pickup
