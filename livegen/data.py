"""Training data: music21 corpora, folders of MIDI/score files and bl2012 JSON -> notes arrays.

``load_pieces(source)`` turns a source into :class:`Piece` objects (a name and a notes array
in quarter notes, see :mod:`livegen.notes`) split by piece into train / valid / test:

- a music21 corpus collection by name (:data:`CORPORA`: ``essen-erk``, ``essen``, ``bach``,
  ``ryans``, ``oneills``);
- a folder, searched recursively, of ``.mid .midi .abc .xml .musicxml .mxl`` files (or one such
  file); MIDI goes through mido directly (fast, tempo-independent), the rest through music21;
- a JSON file of steps in the bl2012 format ``{"train": [...], "valid": [...], "test": [...]}``
  (a piece is a list of steps, a step the list of MIDI pitches sounding), whose split is kept.

Parsing runs in worker processes once; the extracted notes are cached as ``.npz`` so that a
reload takes seconds. Files or tunes that fail to parse are skipped with a warning and counted,
never fatal; a source with nothing to read raises :class:`DataError`. The transposition helpers
at the end serve the training loop's augmentation (train pieces only).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livegen.notes import DEFAULT_VELOCITY, PITCH, empty_notes, sort_notes

log = logging.getLogger(__name__)

# Bump whenever parsing changes what notes come out, so that old caches are not reused.
PARSER_VERSION = 2

MIDI_EXTENSIONS = (".mid", ".midi")
SCORE_EXTENSIONS = (".xml", ".musicxml", ".mxl")
ABC_EXTENSIONS = (".abc",)
EXTENSIONS = MIDI_EXTENSIONS + ABC_EXTENSIONS + SCORE_EXTENSIONS
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0
MAX_SKIPPED_LISTED = 20  # skipped files kept in info (all are counted)
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class CorpusSpec:
    """A collection inside music21's corpus folder."""

    folder: str  # sub-folder of music21/corpus
    include: tuple[str, ...]  # file name patterns
    exclude: tuple[str, ...] = ()
    dedupe_refs: bool = False  # one tune per ABC reference number (X:) across files
    about: str = ""


CORPORA: dict[str, CorpusSpec] = {
    "essen-erk": CorpusSpec("essenFolksong", ("erk*.abc",), about="Erk's German folk songs"),
    # test*.abc are music21's own parser test tunes, not part of the EsAC collection.
    "essen": CorpusSpec("essenFolksong", ("*.abc",), ("test*.abc",), about="all EsAC folk songs"),
    # bwv846 is the C major prelude of the Well-Tempered Clavier, not a chorale; the three
    # Humdrum .krn files duplicate .mxl files of the same chorales.
    "bach": CorpusSpec("bach", ("*.mxl", "*.xml"), ("bwv846.*",), about="Bach chorales"),
    "ryans": CorpusSpec("ryansMammoth", ("*.abc",), about="Ryan's Mammoth Collection"),
    # Several files hold second transcriptions of the same numbered tunes (e.g. 0732-0758_bs
    # and _mh); keeping one per number stops a tune landing in both train and test.
    "oneills": CorpusSpec("oneills1850", ("*.abc",), dedupe_refs=True, about="O'Neill's 1850"),
}


class DataError(ValueError):
    """A source that cannot give any pieces: missing, empty, unknown or malformed."""


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


# A unit of parsing work, picklable for the worker processes: (kind, name, payload) where kind
# is "midi" or "score" (payload a path) or "abc" (payload the text of one tune).
Item = tuple[str, str, str]
Result = tuple[str, np.ndarray | None, str | None]


def default_cache_dir() -> Path:
    """``$LIVEGEN_CACHE`` when set, else ``~/.cache/livegen/pieces``."""
    env = os.environ.get("LIVEGEN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "livegen" / "pieces"


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
    plan = _plan(str(source), limit, step_quarters)
    cache_path = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache_path = cache_path / f"{plan.slug}-{plan.key[:20]}.npz"
    cached = _read_cache(cache_path, plan.key)
    if cached is not None:
        names, flat, offsets, splits, meta = cached
    else:
        names, notes, splits, meta = _build(plan, jobs, progress)
        flat, offsets = _pack(notes)
        _write_cache(cache_path, plan.key, names, flat, offsets, splits, meta)

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


def augment_shifts(max_shift: int) -> list[int]:
    """The transpositions used for augmentation: ``-max_shift .. +max_shift`` semitones."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    return list(range(-max_shift, max_shift + 1))


# ---------------------------------------------------------------------------------------------
# What to parse: resolve the source into work items and a cache key.


@dataclass
class _Plan:
    kind: str  # "corpus", "folder" or "json"
    slug: str  # readable prefix of the cache file name
    key: str  # hash of everything the parsed notes depend on
    given_split: bool
    # Deferred so that a cache hit reads no source file: JSON loads directly, the others
    # list work items for the workers.
    load: Callable[[], tuple[list[str], list[np.ndarray], list[int], dict]] | None = None
    items: Callable[[], list[Item]] | None = None


def _plan(source: str, limit: int | None, step_quarters: float | None) -> _Plan:
    # Corpus names win over a same-named folder in the working directory (write ./bach).
    if source in CORPORA:
        return _plan_corpus(source, limit)
    path = Path(source).expanduser()
    if path.is_file() and path.suffix.lower() == ".json":
        return _plan_json(path, limit, step_quarters)
    if path.is_file() or path.is_dir():
        return _plan_folder(path, limit)
    if path.exists():
        raise DataError(f"{source}: not a regular file or folder")
    looks_like_path = os.sep in source or "/" in source or Path(source).suffix != ""
    if looks_like_path:
        raise DataError(
            f"{source}: no such file or folder; give a folder of music files, "
            f"a bl2012 JSON file or a corpus name ({', '.join(CORPORA)})"
        )
    raise DataError(
        f"unknown corpus {source!r}: known corpora are {', '.join(CORPORA)}; "
        "or give a folder of MIDI/ABC/MusicXML files or a bl2012 JSON file"
    )


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _stat_list(files: Iterable[Path], root: Path) -> list[tuple[str, int, int]]:
    out = []
    for f in files:
        st = f.stat()
        out.append((f.relative_to(root).as_posix(), st.st_mtime_ns, st.st_size))
    return out


def _plan_corpus(name: str, limit: int | None) -> _Plan:
    # Found without importing music21 (a second or more), so that a cache hit stays fast.
    found = importlib.util.find_spec("music21")
    if found is None or not found.submodule_search_locations:
        raise DataError(f"corpus {name!r} needs music21: pip install music21")
    version = importlib.metadata.version("music21")
    spec = CORPORA[name]
    root = Path(next(iter(found.submodule_search_locations))) / "corpus" / spec.folder
    files = sorted(
        f
        for f in (root.iterdir() if root.is_dir() else ())
        if any(fnmatch.fnmatch(f.name, p) for p in spec.include)
        and not any(fnmatch.fnmatch(f.name, p) for p in spec.exclude)
    )
    if not files:
        raise DataError(
            f"corpus {name!r}: no files in {root}; is music21 installed with its "
            "corpus (pip install music21)?"
        )
    key = _digest(["corpus", name, PARSER_VERSION, limit, version, _stat_list(files, root.parent)])

    def items() -> list[Item]:
        return _file_items(files, root.parent, limit, spec.dedupe_refs)

    return _Plan("corpus", name, key, False, items=items)


def _plan_folder(path: Path, limit: int | None) -> _Plan:
    path = path.resolve()
    if path.is_file():
        if path.suffix.lower() not in EXTENSIONS:
            raise DataError(f"{path}: not a music file; reads {' '.join(EXTENSIONS)} or .json")
        files, root = [path], path.parent
    else:
        files = sorted(f for f in path.rglob("*") if f.suffix.lower() in EXTENSIONS and f.is_file())
        root = path
    if not files:
        raise DataError(
            f"{path}: no music files found; looked recursively for {' '.join(EXTENSIONS)}"
        )
    key = _digest(["folder", str(path), PARSER_VERSION, limit, _stat_list(files, root)])
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem if path.is_file() else path.name) or "dir"

    def items() -> list[Item]:
        return _file_items(files, root, limit, False)

    return _Plan("folder", slug, key, False, items=items)


def _file_items(files: list[Path], root: Path, limit: int | None, dedupe_refs: bool) -> list[Item]:
    """Work items in name order: one per MIDI/score file, one per ABC tune."""
    items: list[Item] = []
    seen_refs: set[str] = set()
    for f in files:
        rel = f.relative_to(root).as_posix()
        suffix = f.suffix.lower()
        if suffix in ABC_EXTENSIONS:
            for ref, text in _split_abc(_read_text(f)):
                if dedupe_refs:
                    if ref in seen_refs:
                        continue
                    seen_refs.add(ref)
                items.append(("abc", f"{rel}#{ref}", text))
        else:
            items.append(("midi" if suffix in MIDI_EXTENSIONS else "score", rel, str(f)))
    items.sort(key=lambda it: _natural_key(it[1]))
    return items[:limit] if limit is not None else items


def _natural_key(name: str) -> list:
    # "x.abc#10" after "x.abc#9", so that limit takes the first tunes of a file.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # older ABC collections are Latin-1
        return data.decode("latin-1")


def _split_abc(text: str) -> list[tuple[str, str]]:
    """``(reference, text)`` per tune; the file header (before the first X:) goes with each.

    Splitting here rather than parsing the whole file as an Opus lets tunes go to different
    workers, and one broken tune costs only itself.
    """
    chunks = re.split(r"(?m)^(?=X:)", text)
    header, tunes = chunks[0], chunks[1:]
    if not tunes:
        return [("1", text)] if text.strip() else []
    out: list[tuple[str, str]] = []
    refs = [t[2:].split("\n", 1)[0].strip() or str(i + 1) for i, t in enumerate(tunes)]
    unique = len(set(refs)) == len(refs)
    for i, (ref, tune) in enumerate(zip(refs, tunes, strict=True)):
        out.append((ref if unique else str(i + 1), header + tune))
    return out


def _plan_json(path: Path, limit: int | None, step_quarters: float | None) -> _Plan:
    path = path.resolve()
    if step_quarters is None:
        name = path.name.lower()
        step_quarters = 0.25 if "16th" in name else 0.5 if "piano_midi" in name else 1.0
    if step_quarters <= 0:
        raise DataError(f"step_quarters must be positive, got {step_quarters}")
    st = path.stat()
    key = _digest(
        ["json", str(path), st.st_mtime_ns, st.st_size, PARSER_VERSION, limit, step_quarters]
    )

    def load() -> tuple[list[str], list[np.ndarray], list[int], dict]:
        return _load_json(path, limit, float(step_quarters))

    return _Plan("json", re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem), key, True, load=load)


def _load_json(path: Path, limit: int | None, step: float):
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(data, dict) or not any(isinstance(data.get(s), list) for s in SPLITS):
        raise DataError(
            f"{path}: expected a JSON object with lists 'train', 'valid', 'test' "
            "(bl2012 format: piece = list of steps, step = list of MIDI pitches)"
        )
    names, notes, splits, skipped = [], [], [], []
    found = 0
    for s, split in enumerate(SPLITS):
        for i, piece in enumerate((data.get(split) or [])[:limit]):
            found += 1
            name = f"{split}/{i:04d}"
            try:
                arr = steps_to_notes(piece, step)
            except (TypeError, ValueError) as e:
                skipped.append((name, f"{type(e).__name__}: {e}"))
                continue
            if len(arr) == 0:
                skipped.append((name, "no notes"))
                continue
            names.append(name)
            notes.append(arr)
            splits.append(s)
    return names, notes, splits, _meta(found, len(names), skipped, {"step_quarters": step})


def steps_to_notes(steps: list, step_quarters: float = 1.0) -> np.ndarray:
    """Notes from a list of steps of sounding pitches; a pitch sounding in consecutive steps is
    one held note (so a pianoroll at one tick per step gives the steps back). Negative
    pitches (rests in voice-per-column files) are ignored."""
    rows: list[tuple[int, int, int]] = []
    onset: dict[int, int] = {}
    for i, step in enumerate([*steps, []]):
        now = {int(p) for p in step if int(p) >= 0}
        for p in [p for p in onset if p not in now]:
            rows.append((p, onset.pop(p), i))
        for p in now:
            onset.setdefault(p, i)
    if not rows:
        return empty_notes()
    out = np.asarray(
        [(p, s * step_quarters, e * step_quarters, DEFAULT_VELOCITY) for p, s, e in rows],
        dtype=np.float64,
    )
    return sort_notes(out)


def _meta(found: int, parsed: int, skipped: list[tuple[str, str]], extra: dict) -> dict:
    return {
        "found": found,
        "parsed": parsed,
        "skipped": len(skipped),
        "skipped_files": [list(s) for s in skipped[:MAX_SKIPPED_LISTED]],
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# Parsing (in worker processes).


def _build(plan: _Plan, jobs: int | None, progress: bool):
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

    jobs = max(1, min(jobs or _usable_cpus(), len(items)))
    names, notes, skipped = [], [], []
    bar = tqdm(
        total=len(items),
        desc=f"parsing {plan.slug}",
        unit="piece",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for name, arr, err in _run(items, jobs):
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
    meta = _meta(len(items), len(names), skipped, {"files": files})
    return names, notes, [-1] * len(names), meta


def _usable_cpus() -> int:
    # In a container or under taskset, cpu_count() overstates what this process may use.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _run(items: list[Item], jobs: int) -> Iterable[Result]:
    if jobs == 1:
        yield from map(_parse_item, items)
        return
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        yield from pool.map(_parse_item, items, chunksize=chunk)
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


def midi_notes(path: str | Path) -> np.ndarray:
    """Notes of a MIDI file in quarter notes (ticks / ticks_per_beat, tempo ignored).

    All channels but drums (channel 10) are merged; note-on with velocity 0 is a note-off;
    a re-struck sounding key ends the earlier note; notes still on end with their track.
    """
    import mido

    mid = mido.MidiFile(str(path), clip=True)
    tpb = mid.ticks_per_beat
    if not tpb or tpb <= 0:
        raise ValueError(f"unsupported time division {tpb}")
    rows: list[tuple[int, int, int, int]] = []
    for track in mid.tracks:
        t = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (on, vel)
        for msg in track:
            t += msg.time
            if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
                continue
            key = (msg.channel, msg.note)
            if key in sounding:  # a note-off, or a re-strike, ends the sounding note
                start, vel = sounding.pop(key)
                rows.append((msg.note, start, t, vel))
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[key] = (t, msg.velocity)
        rows.extend((p, s, t, v) for (_, p), (s, v) in sounding.items())
    notes = np.asarray([r for r in rows if r[2] > r[1]], dtype=np.float64).reshape(-1, 4)
    notes[:, 1:3] /= tpb
    return sort_notes(notes)


def _music21_notes(kind: str, payload: str) -> np.ndarray:
    from music21 import converter, stream

    # music21 writes parse warnings straight to stderr; they would shred the progress bar.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if kind == "abc":
            parsed = converter.parseData(payload, format="abc")
        else:
            # Our own cache replaces music21's pickles; do not litter its scratch folder.
            parsed = converter.parse(payload, forceSource=True, storePickle=False)
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
        score = _expand_repeats(score)
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


def _expand_repeats(score):
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


# ---------------------------------------------------------------------------------------------
# Cache: one .npz per source; notes concatenated with offsets, so no pickle is needed to read.


def _pack(notes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(notes) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in notes])
    flat = np.concatenate(notes).astype(np.float64) if notes else empty_notes()
    return flat, offsets


def _read_cache(path: Path, key: str):
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                raise ValueError("key mismatch")
            flat, offsets = z["notes"], z["offsets"]
            names = [str(n) for n in z["names"]]
            splits = [int(s) for s in z["splits"]]
            meta = json.loads(str(z["meta"]))
        if (
            flat.ndim != 2
            or flat.shape[1] != 4
            or len(offsets) != len(names) + 1
            or len(splits) != len(names)
            or offsets[-1] != len(flat)
            or np.any(np.diff(offsets) < 0)
        ):
            raise ValueError("inconsistent arrays")
    except Exception as e:  # noqa: BLE001  # a broken cache is rebuilt, never fatal
        warnings.warn(
            f"ignoring corrupt cache {path} ({type(e).__name__}: {e}); rebuilding", stacklevel=3
        )
        return None
    return names, flat, offsets, splits, meta


def _write_cache(path: Path, key: str, names, flat, offsets, splits, meta) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file (parallel runs, Ctrl-C).
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    key=np.array(key),
                    notes=flat,
                    offsets=offsets,
                    names=np.array(names, dtype=str),
                    splits=np.array(splits, np.int8),
                    meta=np.array(json.dumps(meta)),
                )
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is not secret
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        warnings.warn(f"could not write cache {path}: {e}", stacklevel=3)
