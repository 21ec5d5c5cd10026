"""Parsing a source's work items into notes arrays, in worker processes.

MIDI files go through :func:`livegen.midifile.midi_notes` (fast, tempo-independent); ABC
tunes and MusicXML files through music21, with repeats played out, ties merged and chords
split (:func:`score_notes`). An item that fails to parse is skipped with a warning and
counted, never fatal; only a source where nothing parses is a :class:`DataError`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from livegen.data.sources import DataError, Item, Parsed, Plan, counts_info
from livegen.midifile import midi_notes
from livegen.notes import DEFAULT_VELOCITY, empty_notes, sort_notes

log = logging.getLogger(__name__)

# What a worker sends back for one item: its name, and its notes or why it failed.
Result = tuple[str, np.ndarray | None, str | None]


def parse_source(plan: Plan, jobs: int | None, progress: bool) -> Parsed:
    """The pieces of a planned source; ``jobs`` worker processes (default: the usable CPUs)."""
    if plan.load is not None:
        names, notes, splits, meta = plan.load()
        for name, reason in meta["skipped_files"]:
            log.warning("skipped %s: %s", name, reason)
        if not names:
            raise DataError(f"{plan.slug}: no piece with notes in the JSON file")
        return names, notes, splits, meta

    from tqdm.auto import tqdm

    assert plan.items is not None
    items = plan.items()
    if not items:
        raise DataError(f"{plan.slug}: nothing to parse (no tunes in the files)")
    if any(kind != "midi" for kind, _, _ in items):
        import music21  # noqa: F401  # imported once here so forked workers inherit it

    jobs = max(1, min(jobs or usable_cpus(), len(items)))
    names, notes, skipped = [], [], []
    bar = tqdm(
        total=len(items),
        desc=f"parsing {plan.slug}",
        unit="piece",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for name, arr, err in run_items(items, jobs):
            bar.update(1)
            if err is None and arr is not None and len(arr) == 0:
                err = "no notes"
            if err is not None:
                log.warning("skipped %s: %s", name, err)
                skipped.append((name, err))
                continue
            names.append(name)
            notes.append(arr)
    finally:
        bar.close()
    if not names:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"{plan.slug}: none of the {len(items)} files/tunes could be parsed{first}")
    files = len({name.split("#", 1)[0] for _, name, _ in items})
    meta = counts_info(len(items), len(names), skipped, {"files": files})
    return names, notes, [-1] * len(names), meta


def usable_cpus() -> int:
    # In a container or under taskset, cpu_count() overstates what this process may use.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def run_items(items: list, jobs: int, fn: Callable | None = None) -> Iterable:
    """``fn`` (default: parse into notes) over ``items`` in ``jobs`` processes, in order."""
    fn = fn or _parse_item
    if jobs == 1:
        yield from map(fn, items)
        return
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        yield from pool.map(fn, items, chunksize=chunk)
    except BaseException:
        # Ctrl-C or an error: do not wait for the queued work before propagating.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _parse_item(item: Item) -> Result:
    kind, name, payload = item
    try:
        arr = midi_notes(payload) if kind == "midi" else _music21_notes(kind, payload)
        return name, arr, None
    except Exception as e:  # noqa: BLE001  # any failure skips this one file or tune only
        msg = " ".join(f"{type(e).__name__}: {e}".split())
        return name, None, msg[:300]


def parse_music21(kind: str, payload: str):
    """The music21 stream of an ABC tune's text or a score file's path, quietly."""
    from music21 import converter

    # music21 writes parse warnings straight to stderr; they would shred the progress bar.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if kind == "abc":
            return converter.parseData(payload, format="abc")
        # Our own cache replaces music21's pickles; do not litter its scratch folder.
        return converter.parse(payload, forceSource=True, storePickle=False)


def _music21_notes(kind: str, payload: str) -> np.ndarray:
    from music21 import stream

    parsed = parse_music21(kind, payload)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        parts, end = [], 0.0
        for score in scores:  # the works of an opus one after another, not on top
            notes = score_notes(score)
            notes[:, 1:3] += end
            end = max(end, float(notes[:, 2].max())) if len(notes) else end
            parts.append(notes)
    return sort_notes(np.concatenate(parts)) if parts else empty_notes()


def score_notes(score, expand_repeats: bool = True) -> np.ndarray:
    """Notes of a music21 stream: repeats played out, ties merged, chords split; grace notes,
    chord symbols and unpitched notes left out; velocity from the score or the default."""
    from music21 import chord, harmony, note

    if expand_repeats:
        score = expand_score_repeats(score)
    rows = []
    for el in score.stripTies(inPlace=False).flatten().notes:
        if isinstance(el, harmony.Harmony) or not isinstance(el, (note.Note, chord.Chord)):
            continue  # chord symbols only name harmony; unpitched/percussion has no pitch
        ql = float(el.duration.quarterLength)
        if ql <= 0:
            continue  # grace notes take no time on the grid
        start = float(el.offset)
        vel = el.volume.velocity if el.volume.velocity is not None else DEFAULT_VELOCITY
        rows.extend((p.midi, start, start + ql, vel) for p in el.pitches)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def expand_score_repeats(score):
    """The score as played (repeats, voltas, da capo), as a MIDI file of it would be.

    Without this the first and second endings follow each other directly. Expanding is slow,
    so scores without repeat marks (all of Essen) skip it; badly formed repeats (a few ABC
    tunes) keep the written form rather than losing the tune.
    """
    from music21 import bar, repeat, spanner

    marks = (bar.Repeat, repeat.RepeatExpression, spanner.RepeatBracket)
    if next(iter(score.recurse().getElementsByClass(marks)), None) is None:
        return score
    try:
        return score.expandRepeats()
    except Exception:  # noqa: BLE001  # music21 raises several types for inconsistent marks
        return score
