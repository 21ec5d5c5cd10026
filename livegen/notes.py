"""Notes and ticks: the two shapes music takes inside livegen.

A piece is a float array of notes, one row each: ``(pitch, start, end, velocity)``
with times in quarter notes, as parsed from a score or a MIDI file. Codecs and the
live engine see music as a sequence of ticks; a :class:`Tick` holds what happens
at one tick: notes released, then notes struck. The conversion between the two
lives here so that training (whole pieces) and live play (tick by tick) quantize
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Columns of a notes array.
PITCH, START, END, VELOCITY = 0, 1, 2, 3
DEFAULT_VELOCITY = 80


def empty_notes() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float64)


def make_notes(rows) -> np.ndarray:
    """Build a notes array from ``(pitch, start, end[, velocity])`` rows, sorted."""
    out = []
    for row in rows:
        pitch, start, end, *rest = row
        out.append((pitch, start, end, rest[0] if rest else DEFAULT_VELOCITY))
    if not out:
        return empty_notes()
    return sort_notes(np.asarray(out, dtype=np.float64))


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Sort by start, then pitch (the order every function here returns)."""
    if len(notes) == 0:
        return notes.reshape(0, 4).astype(np.float64)
    order = np.lexsort((notes[:, PITCH], notes[:, START]))
    return notes[order]


@dataclass(frozen=True, slots=True)
class Tick:
    """What happens at one tick: ``offs`` are released first, then ``ons`` struck.

    ``ons`` holds ``(pitch, velocity)`` pairs. A pitch in both is re-struck.
    """

    offs: tuple[int, ...] = ()
    ons: tuple[tuple[int, int], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.offs or self.ons)

    def merge(self, other: Tick) -> Tick:
        """Both ticks' events as one (used to merge the musician's and livegen's notes)."""
        if not other:
            return self
        if not self:
            return other
        offs = tuple(sorted(set(self.offs) | set(other.offs)))
        ons: dict[int, int] = dict(self.ons)
        for pitch, velocity in other.ons:
            ons.setdefault(pitch, velocity)
        return Tick(offs, tuple(sorted(ons.items())))


EMPTY_TICK = Tick()


def fold_pitch(pitch: int, low: int, high: int) -> int:
    """Move a pitch by octaves into ``[low, high]`` (requires high - low >= 11)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def fold_notes(notes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Fold every pitch into range by octaves; nothing is dropped."""
    if len(notes) == 0:
        return notes
    out = notes.copy()
    pitch = out[:, PITCH]
    below = pitch < low
    pitch[below] += 12 * np.ceil((low - pitch[below]) / 12)
    above = pitch > high
    pitch[above] -= 12 * np.ceil((pitch[above] - high) / 12)
    return out


def quantize(notes: np.ndarray, ticks_per_quarter: int) -> list[tuple[int, int, int, int]]:
    """Notes on the tick grid as ``(pitch, start_tick, end_tick, velocity)``.

    Starts and ends round to the nearest tick; a note lasts at least one tick.
    Where two notes of one pitch overlap, the later onset ends the earlier note
    (a MIDI note cannot sound twice); two onsets of one pitch at one tick keep
    the longer note.
    """
    if len(notes) == 0:
        return []
    start = np.rint(notes[:, START] * ticks_per_quarter).astype(np.int64)
    end = np.rint(notes[:, END] * ticks_per_quarter).astype(np.int64)
    end = np.maximum(end, start + 1)
    start = np.maximum(start, 0)
    end = np.maximum(end, start + 1)
    pitch = notes[:, PITCH].astype(np.int64)
    velocity = np.clip(np.rint(notes[:, VELOCITY]), 1, 127).astype(np.int64)
    by_pitch: dict[int, list[list[int]]] = {}
    for i in np.lexsort((-end, start, pitch)):
        p, s, e, v = int(pitch[i]), int(start[i]), int(end[i]), int(velocity[i])
        run = by_pitch.setdefault(p, [])
        if run and run[-1][1] == s:
            continue  # same pitch struck twice at one tick: the longer one was kept
        if run and run[-1][2] > s:
            run[-1][2] = s
        run.append([p, s, e, v])
    grid = [tuple(n) for run in by_pitch.values() for n in run]
    grid.sort(key=lambda n: (n[1], n[0]))
    return grid  # type: ignore[return-value]


def notes_to_ticks(notes: np.ndarray, ticks_per_quarter: int) -> list[Tick]:
    """The tick-by-tick events of a piece, from tick 0 to its last note-off."""
    grid = quantize(notes, ticks_per_quarter)
    if not grid:
        return []
    n_ticks = max(n[2] for n in grid) + 1
    offs: list[list[int]] = [[] for _ in range(n_ticks)]
    ons: list[list[tuple[int, int]]] = [[] for _ in range(n_ticks)]
    for p, s, e, v in grid:
        ons[s].append((p, v))
        offs[e].append(p)
    return [Tick(tuple(sorted(f)), tuple(sorted(o))) for f, o in zip(offs, ons, strict=True)]


def ticks_to_notes(ticks, ticks_per_quarter: int) -> np.ndarray:
    """Notes (in quarter notes) from a sequence of ticks.

    Notes still held at the end stop after the last tick.
    """
    sounding: dict[int, tuple[int, int]] = {}
    rows: list[tuple[float, float, float, float]] = []
    n = -1
    for n, tick in enumerate(ticks):
        for p in tick.offs:
            if p in sounding:
                s, v = sounding.pop(p)
                rows.append((p, s, n, v))
        for p, v in tick.ons:
            if p in sounding:  # re-strike without an explicit off
                s, v0 = sounding.pop(p)
                rows.append((p, s, n, v0))
            sounding[p] = (n, v)
    for p, (s, v) in sounding.items():
        rows.append((p, s, n + 1, v))
    if not rows:
        return empty_notes()
    out = np.asarray(rows, dtype=np.float64)
    out[:, START] /= ticks_per_quarter
    out[:, END] /= ticks_per_quarter
    return sort_notes(out)


def on_grid(notes: np.ndarray, ticks_per_quarter: int) -> np.ndarray:
    """The notes as a codec can represent them: quantized to the grid, overlaps resolved."""
    return ticks_to_notes(notes_to_ticks(notes, ticks_per_quarter), ticks_per_quarter)
