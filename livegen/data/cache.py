"""The on-disk cache of parsed pieces: one ``.npz`` per source, named and checked by its key.

The key hashes everything the parsed notes depend on (the source's files with their times
and sizes, the options, :data:`PARSER_VERSION`), so a changed source is never served stale.
Notes are stored concatenated with offsets, so reading needs no pickle. A broken cache is
rebuilt with a warning and an unwritable one only warned about: the cache is never fatal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from livegen.notes import empty_notes

# Bump whenever parsing changes what notes come out, so that old caches are not reused.
PARSER_VERSION = 2

Cached = tuple[list[str], np.ndarray, np.ndarray, list[int], dict]  # names, flat, offsets, ...


def default_cache_dir() -> Path:
    """``$LIVEGEN_CACHE`` when set, else ``~/.cache/livegen/pieces``."""
    env = os.environ.get("LIVEGEN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "livegen" / "pieces"


def cache_key(parts: list) -> str:
    """The hash of ``parts`` (JSON-able; include :data:`PARSER_VERSION`)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cache_file(cache_dir: str | Path | None, slug: str, key: str) -> Path:
    """Where the pieces of a source live: ``<cache_dir>/<slug>-<key prefix>.npz``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / f"{slug}-{key[:20]}.npz"


def pack(notes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All notes in one ``(N, 4)`` array, and the offsets where each piece starts (and ends)."""
    offsets = np.zeros(len(notes) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in notes])
    flat = np.concatenate(notes).astype(np.float64) if notes else empty_notes()
    return flat, offsets


def read_cache(path: Path, key: str) -> Cached | None:
    """``(names, flat, offsets, splits, meta)`` if ``path`` holds the pieces for ``key``."""
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
        # stacklevel 3: the caller of load_pieces, not this module.
        warnings.warn(
            f"ignoring corrupt cache {path} ({type(e).__name__}: {e}); rebuilding", stacklevel=3
        )
        return None
    return names, flat, offsets, splits, meta


def write_cache(path: Path, key: str, names, flat, offsets, splits, meta) -> None:
    """Store what :func:`read_cache` gives back; a failure to write is only a warning."""
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


# ---- parted pieces: one entry per part, named "piece<US>label" ------------------------------

_SEP = "\x1f"  # between a piece's name and a part's label


def write_cuts(path: Path, key: str, cuts: dict, splits: list[int], meta: dict) -> None:
    """Store pieces cut into labelled parts (``{name: (parts, beats_per_bar)}``)."""
    names, notes, entry_splits = [], [], []
    for (name, (labelled, _)), s in zip(cuts.items(), splits, strict=True):
        for label, arr in labelled:
            names.append(f"{name}{_SEP}{label}")
            notes.append(arr)
            entry_splits.append(s)
    meta = {**meta, "beats_per_bar": {name: beats for name, (_, beats) in cuts.items()}}
    flat, offsets = pack(notes)
    write_cache(path, key, names, flat, offsets, entry_splits, meta)


def read_cuts(cached: Cached) -> tuple[dict, list[int], dict]:
    """The cut pieces, splits and meta that :func:`write_cuts` stored, from a read cache."""
    names, flat, offsets, entry_splits, meta = cached
    flat.flags.writeable = False  # views of one buffer: training copies, never edits
    beats = meta.pop("beats_per_bar")
    cuts: dict = {}
    splits: list[int] = []
    for entry, a, b, s in zip(names, offsets[:-1], offsets[1:], entry_splits, strict=True):
        name, _, label = entry.partition(_SEP)
        if name not in cuts:
            cuts[name] = ([], int(beats[name]))
            splits.append(s)
        cuts[name][0].append((label, flat[a:b]))
    return cuts, splits, meta
