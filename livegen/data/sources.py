"""What a source of training data is, and the plan for reading it.

A source is one of:

- a music21 corpus collection by name (:data:`CORPORA`);
- a folder, searched recursively, of ``.mid .midi .abc .xml .musicxml .mxl`` files (or one
  such file), planned as work items for the parser (one per file, one per ABC tune);
- a JSON file of steps in the bl2012 format ``{"train": [...], "valid": [...], "test": [...]}``
  (a piece is a list of steps, a step the list of MIDI pitches sounding), read here directly.

:func:`plan_source` resolves a source into a :class:`Plan`: its cache key, and a deferred way
to get its pieces, so that a cache hit reads no source file. A source that cannot give any
pieces is a :class:`DataError`.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livegen.data.cache import PARSER_VERSION, cache_key
from livegen.errors import LivegenError
from livegen.notes import DEFAULT_VELOCITY, empty_notes, sort_notes

MIDI_EXTENSIONS = (".mid", ".midi")
SCORE_EXTENSIONS = (".xml", ".musicxml", ".mxl")
ABC_EXTENSIONS = (".abc",)
EXTENSIONS = MIDI_EXTENSIONS + ABC_EXTENSIONS + SCORE_EXTENSIONS
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


class DataError(LivegenError, ValueError):
    """A source that cannot give any pieces: missing, empty, unknown or malformed."""


# A unit of parsing work, picklable for the worker processes: (kind, name, payload) where kind
# is "midi" or "score" (payload a path) or "abc" (payload the text of one tune).
Item = tuple[str, str, str]
# What a source's pieces are before they are cut into Piece objects: names, notes arrays,
# split indices into SPLITS (-1: not given by the source) and how they were obtained.
Parsed = tuple[list[str], list[np.ndarray], list[int], dict]


@dataclass
class Plan:
    """How to get the pieces of one source, and the key of its cache file."""

    kind: str  # "corpus", "folder" or "json"
    slug: str  # readable prefix of the cache file name
    key: str  # hash of everything the parsed notes depend on
    given_split: bool
    # Deferred so that a cache hit reads no source file: JSON loads directly, the others
    # list work items for the workers.
    load: Callable[[], Parsed] | None = None
    items: Callable[[], list[Item]] | None = None
    # A JSON source, for readers that cut its steps another way (livegen.data.parts).
    json_path: Path | None = None
    limit: int | None = None
    step_quarters: float = 1.0


def plan_source(source: str, limit: int | None, step_quarters: float | None) -> Plan:
    """The plan for ``source``; raises DataError when it names nothing readable."""
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
    if path.suffix.lower() == ".json":
        # A recipe of a bl2012 split names where the file sat when it was trained; a new
        # user's copy is elsewhere, or not downloaded yet.
        raise DataError(
            f"{source}: no such file; this names a bl2012 JSON split (train, valid, test: "
            "pieces as steps of sounding pitches); give its path with --source=PATH"
        )
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


def _stat_list(files: Iterable[Path], root: Path) -> list[tuple[str, int, int]]:
    out = []
    for f in files:
        st = f.stat()
        out.append((f.relative_to(root).as_posix(), st.st_mtime_ns, st.st_size))
    return out


def _plan_corpus(name: str, limit: int | None) -> Plan:
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
    key = cache_key(
        ["corpus", name, PARSER_VERSION, limit, version, _stat_list(files, root.parent)]
    )

    def items() -> list[Item]:
        return _file_items(files, root.parent, limit, spec.dedupe_refs)

    return Plan("corpus", name, key, False, items=items)


def _plan_folder(path: Path, limit: int | None) -> Plan:
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
    key = cache_key(["folder", str(path), PARSER_VERSION, limit, _stat_list(files, root)])
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem if path.is_file() else path.name) or "dir"

    def items() -> list[Item]:
        return _file_items(files, root, limit, False)

    return Plan("folder", slug, key, False, items=items)


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


def _plan_json(path: Path, limit: int | None, step_quarters: float | None) -> Plan:
    path = path.resolve()
    if step_quarters is None:
        name = path.name.lower()
        step_quarters = 0.25 if "16th" in name else 0.5 if "piano_midi" in name else 1.0
    if step_quarters <= 0:
        raise DataError(f"step_quarters must be positive, got {step_quarters}")
    st = path.stat()
    key = cache_key(
        ["json", str(path), st.st_mtime_ns, st.st_size, PARSER_VERSION, limit, step_quarters]
    )

    def load() -> Parsed:
        return _load_json(path, limit, float(step_quarters))

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)
    return Plan(
        "json",
        slug,
        key,
        True,
        load=load,
        json_path=path,
        limit=limit,
        step_quarters=float(step_quarters),
    )


def _load_json(path: Path, limit: int | None, step: float) -> Parsed:
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
    return names, notes, splits, counts_info(found, len(names), skipped, {"step_quarters": step})


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


def counts_info(found: int, parsed: int, skipped: list[tuple[str, str]], extra: dict) -> dict:
    """How many pieces were found, parsed and skipped (the first few named), for ``info``."""
    return {
        "found": found,
        "parsed": parsed,
        "skipped": len(skipped),
        "skipped_files": [list(s) for s in skipped[:MAX_SKIPPED_LISTED]],
        **extra,
    }
