"""Training data with parts: each piece as *yours* (the musician's part) and *mine* (livegen's).

``load_parts(source, parts)`` cuts every piece of a source (a music21 corpus, a folder of
MIDI/score files, a bl2012 JSON) by the recipe's ``data.parts`` (:class:`PartsConfig`):

- ``voices``: the parts of a score by name (the chorales' Soprano, Alto, Tenor, Bass; a
  quartet's Violin I, Violin II, Viola, Cello; a voices JSON's four columns as S A T B);
- ``tracks`` / ``channels``: a MIDI file's tracks (by number from 1 or by track name) or
  channels (1..16);
- ``top``: the highest sounding note at each onset (``top``) against the rest (``rest``).

``yours`` and ``mine`` name parts case-insensitively, with aliases (``S`` = Soprano,
``Violin 1`` = ``Violin I`` = ``Vln. I``, ``Vc`` = Cello) or by number; an empty ``mine``
is every part that is not yours. A piece that cannot be cut, or lacks a part the recipe
names, is skipped and counted (``info["skipped_parts"]``), as unparseable files are. The cut
parts of a source are cached by split kind, so another choice of yours and mine, or a second
run, reads no score. ``exclude_heldout`` leaves out every piece whose melody is a BL2012
valid or test piece (:mod:`livegen.data.heldout`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from livegen.config import PartsConfig
from livegen.data.cache import cache_file, cache_key, read_cache, read_cuts, write_cuts
from livegen.data.heldout import melody_of, read_heldout
from livegen.data.parse import run_items, usable_cpus
from livegen.data.part_split import ONE_TRACK, REST, TOP, Cut, cut_item, cut_steps
from livegen.data.sources import SPLITS, DataError, Plan, counts_info, plan_source
from livegen.notes import empty_notes, sort_notes

if TYPE_CHECKING:
    from collections.abc import Callable

    from livegen.data import Piece

log = logging.getLogger(__name__)

# Bump whenever cutting changes what parts come out, so that old caches are not reused.
PARTS_VERSION = 1


class OneTrackError(DataError):
    """``split: tracks`` on MIDI files that all have one track: another split is needed."""


@dataclass(frozen=True, eq=False)
class Parted:
    """One piece as two parts on one time axis, in quarter notes: ``yours`` (heard) and
    ``mine`` (livegen's), ``(N, 4)`` notes each; bar lines at multiples of ``beats_per_bar``."""

    name: str
    yours: np.ndarray
    mine: np.ndarray
    beats_per_bar: int

    # Arrays make the generated dataclass __eq__ ambiguous; compare by value instead.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parted):
            return NotImplemented
        return (
            self.name == other.name
            and self.beats_per_bar == other.beats_per_bar
            and np.array_equal(self.yours, other.yours)
            and np.array_equal(self.mine, other.mine)
        )

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Parted({self.name!r}, yours {len(self.yours)}, mine {len(self.mine)} notes)"


@dataclass(frozen=True)
class PartsSplit:
    """Parted pieces split by piece, and how they were obtained (``info``, JSON-friendly)."""

    train: list[Parted]
    valid: list[Parted]
    test: list[Parted]
    info: dict = field(default_factory=dict)


# ---- naming parts ------------------------------------------------------------------------------

_ALIASES = {
    "s": "soprano", "sop": "soprano", "a": "alto", "t": "tenor", "ten": "tenor", "b": "bass",
    "vln": "violin", "vn": "violin", "vl": "violin", "violino": "violin",
    "vla": "viola", "va": "viola", "viole": "viola",
    "vc": "cello", "vlc": "cello", "violoncello": "cello", "violoncelli": "cello",
    "melody": TOP, "tune": TOP, "accompaniment": REST,
}  # fmt: skip
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6"}


def part_key(name: str) -> tuple[str, ...]:
    """A part name as compared: words and numbers in lower case (``SopranoOboe`` is two
    words, ``Violin1`` a word and a number), aliases and Roman numerals resolved, so that
    ``"Vln. II"`` and ``"violin 2"`` give the same key."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]
    out = []
    for i, w in enumerate(words):
        # A Roman numeral only after a word ("Violin I"); alone, "I" is no part name.
        out.append(_ROMAN[w] if i > 0 and w in _ROMAN else _ALIASES.get(w, w))
    return tuple(out)


def names_match(selector: str, label: str) -> bool:
    """Whether a recipe's part name names a score's part. A part that doubles instruments
    ("Soprano Oboe 1 Violin1", "Bass Continuo") is named by its first role, but "Soprano"
    is not "Soprano 2" and "Violin" is not "Violin 1"."""
    want, have = part_key(selector), part_key(label)
    if have[: len(want)] != want or not want:
        return False
    return len(have) == len(want) or not have[len(want)].isdigit()


def _matches(selector: str | int, label: str, index: int, split: str) -> bool:
    if isinstance(selector, int):
        if split in ("tracks", "channels"):
            return label.split(" ", 1)[0] == str(selector)
        return index + 1 == selector
    if split == "tracks":  # "3 Bass": the number, or the track's name
        number, _, name = label.partition(" ")
        return selector.strip() == number or (bool(name) and names_match(selector, name))
    return names_match(selector, label)


def select(parts: list[tuple[str, np.ndarray]], cfg: PartsConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(yours, mine)`` notes from a piece's labelled parts; ValueError names what is missing."""
    labels = [label for label, _ in parts]
    chosen: list[set[int]] = []
    for selectors in (cfg.yours, cfg.mine):
        picked: set[int] = set()
        for sel in selectors:
            hits = {i for i, lab in enumerate(labels) if _matches(sel, lab, i, cfg.split)}
            if not hits:
                has = ", ".join(labels) or "none"
                raise ValueError(f"no part {sel!r} (parts: {has})")
            picked |= hits
        chosen.append(picked)
    yours, mine = chosen
    if not cfg.mine:
        mine = set(range(len(parts))) - yours
    if yours & mine:
        both = ", ".join(labels[i] for i in sorted(yours & mine))
        raise ValueError(f"part {both} is both yours and mine")
    out = []
    for which, idx in (("yours", yours), ("mine", mine)):
        notes = [parts[i][1] for i in sorted(idx)]
        merged = sort_notes(np.concatenate(notes)) if notes else empty_notes()
        if len(merged) == 0:
            raise ValueError(f"no notes in {which} ({', '.join(labels[i] for i in idx) or '-'})")
        out.append(merged)
    return out[0], out[1]


def melody_part(parts: list[tuple[str, np.ndarray]], split: str) -> np.ndarray:
    """The part that carries the melody: top, a soprano or first violin, else the first."""
    for want in (TOP, "soprano", "violin 1"):
        for i, (label, notes) in enumerate(parts):
            if _matches(want, label, i, split):
                return notes
    return parts[0][1]


# ---- loading ---------------------------------------------------------------------------------


def load_parts(
    source: str | os.PathLike,
    parts: PartsConfig,
    *,
    cache_dir: str | Path | None = None,
    jobs: int | None = None,
    progress: bool = True,
    seed: int = 0,
    limit: int | None = None,
    step_quarters: float | None = None,
) -> PartsSplit:
    """The pieces of ``source`` cut into yours and mine by ``parts``, split by piece as
    :func:`livegen.data.load_pieces` splits them (given by a JSON, else seeded 80/10/10)."""
    from livegen.data import seeded_split  # late: livegen.data imports this module's names

    t0 = time.perf_counter()
    if limit is not None and limit < 1:
        raise DataError(f"limit must be at least 1, got {limit}")
    plan = plan_source(str(source), limit, step_quarters)
    key = cache_key([plan.key, "parts", PARTS_VERSION, parts.split])
    path = cache_file(cache_dir, f"{plan.slug}-{parts.split}", key)
    cached = read_cache(path, key)
    if cached is None:
        cuts, splits, meta = _cut_source(plan, parts.split, jobs, progress)
        write_cuts(path, key, cuts, splits, meta)
    else:
        cuts, splits, meta = read_cuts(cached)

    heldout = read_heldout(parts.exclude_heldout) if parts.exclude_heldout else None
    kept: list[tuple[Parted, int]] = []
    skipped: list[tuple[str, str]] = []
    left_out: dict[str, int] = {"exact": 0, "transposed": 0, "near": 0}
    for (name, (labelled, beats)), s in zip(cuts.items(), splits, strict=True):
        if heldout is not None:
            how = heldout.match(melody_of(melody_part(labelled, parts.split)), parts.heldout_near)
            if how is not None:
                left_out[how] += 1
                continue
        try:
            yours, mine = select(labelled, parts)
        except ValueError as e:
            skipped.append((name, str(e)))
            continue
        kept.append((Parted(name, yours, mine, beats), s))
    for name, reason in skipped[:5]:
        log.warning("skipped %s: %s", name, reason)
    if not kept:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"{plan.slug}: no piece has the parts {_wanted(parts)}{first}")

    pieces = [p for p, _ in kept]
    if plan.given_split:
        split = [[p for p, s in kept if s == i] for i in range(3)]
    else:
        split = seeded_split(pieces, seed)
    info = {
        "source": str(source),
        "kind": plan.kind,
        **meta,
        "parts": {
            "split": parts.split,
            "yours": list(parts.yours),
            "mine": list(parts.mine),
            "mine_only": parts.mine_only,
        },
        "skipped_parts": len(skipped),
        "skipped_parts_files": [list(x) for x in skipped[:20]],
        "split": "given" if plan.given_split else "seeded 80/10/10",
        "seed": None if plan.given_split else seed,
        "counts": {s: len(p) for s, p in zip(SPLITS, split, strict=True)},
        "cache_hit": cached is not None,
        "cache_file": str(path),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if heldout is not None:
        info["heldout"] = {
            "file": heldout.path,
            # Not "near": that key is the count of near matches, below.
            "threshold": parts.heldout_near,
            "left_out": sum(left_out.values()),
            **left_out,
        }
    log.info("%s", closing_note(info))
    return PartsSplit(split[0], split[1], split[2], info)


def parts_loader(codec, parts: PartsConfig) -> Callable[..., PartsSplit]:
    """:func:`load_parts` for a recipe's ``data.parts``, once the codec is known to take two
    parts (a single-stream codec would silently train on one)."""
    two_parts = hasattr(codec, "encode_parts")
    if parts.mine_only and two_parts:
        raise DataError(
            f"data.parts.mine_only trains one stream of mine's notes, and codec {codec.name!r} "
            "takes two parts: set codec.name to a single-stream codec (poly) or drop mine_only"
        )
    if not two_parts and not parts.mine_only:
        raise DataError(
            f"data.parts needs a parts codec, and codec {codec.name!r} has one stream: "
            "set codec.name to a parts codec, remove data.parts, or set data.parts.mine_only"
        )
    return functools.partial(load_parts, parts=parts)


def encode_piece(codec, piece: Piece | Parted, shift: int = 0) -> np.ndarray:
    """A training piece as tokens, moved by ``shift`` semitones: one stream, or yours then
    mine per tick for a parted piece; mine alone where the codec has one stream (only
    ``mine_only`` gets a parted piece to such a codec: :func:`parts_loader`)."""
    from livegen.data import transpose  # late: livegen.data imports this module's names

    if isinstance(piece, Parted):
        if not hasattr(codec, "encode_parts"):
            return codec.encode(transpose(piece.mine, shift))
        return codec.encode_parts(transpose(piece.yours, shift), transpose(piece.mine, shift))
    return codec.encode(transpose(piece.notes, shift) if shift else piece.notes)


def closing_note(info: dict) -> str:
    """One line: what was kept, skipped and left out, for the end of loading."""
    c = info["counts"]
    line = (
        f"{info['source']}: {c['train']} / {c['valid']} / {c['test']} pieces with parts "
        f"(split {info['parts']['split']}); {info.get('skipped', 0)} could not be cut and "
        f"{info['skipped_parts']} without the parts skipped"
    )
    if "heldout" in info:
        h = info["heldout"]
        line += (
            f"; {h['left_out']} left out as BL2012 valid/test melodies "
            f"({h['exact']} exact, {h['transposed']} transposed, {h['near']} near)"
        )
    return line


def _wanted(parts: PartsConfig) -> str:
    mine = ", ".join(map(str, parts.mine)) or "the rest"
    return f"yours {', '.join(map(str, parts.yours))}; mine {mine} (split {parts.split})"


def _cut_source(plan: Plan, split: str, jobs: int | None, progress: bool):
    """Every piece of the plan cut by ``split``: ``({name: cut}, splits, meta)``."""
    if plan.kind == "json":
        return _cut_json(plan, split)
    from tqdm.auto import tqdm

    assert plan.items is not None
    items = plan.items()
    if not items:
        raise DataError(f"{plan.slug}: nothing to parse (no tunes in the files)")
    if any(kind != "midi" for kind, _, _ in items):
        import music21  # noqa: F401  # imported once here so forked workers inherit it
    jobs = max(1, min(jobs or usable_cpus(), len(items)))
    cuts: dict[str, Cut] = {}
    skipped: list[tuple[str, str]] = []
    bar = tqdm(total=len(items), desc=f"parts of {plan.slug}", unit="piece", disable=not progress)
    try:
        for name, cut, err in run_items([(split, it) for it in items], jobs, cut_item):
            bar.update(1)
            if err is None and cut is not None and not any(len(n) for _, n in cut[0]):
                err = "no notes"
            if err is not None:
                skipped.append((name, err))
                continue
            cuts[name] = cut
    finally:
        bar.close()
    for name, reason in skipped[:5]:
        log.warning("skipped %s: %s", name, reason)
    one_track = [s for s in skipped if s[1].startswith(ONE_TRACK)]
    if not cuts and one_track and len(one_track) == len(skipped):
        raise OneTrackError(
            f"{plan.slug}: every MIDI file has {ONE_TRACK}, so split: tracks cannot split them; "
            "use split: channels (if the parts play on their own channels) or split: top"
        )
    if not cuts:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"{plan.slug}: none of the {len(items)} files could be split{first}")
    files = len({name.split("#", 1)[0] for _, name, _ in items})
    meta = counts_info(len(items), len(cuts), skipped, {"files": files})
    return cuts, [-1] * len(cuts), meta


def _cut_json(plan: Plan, split: str):
    import json

    assert plan.json_path is not None
    try:
        data = json.loads(plan.json_path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{plan.json_path}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise DataError(f"{plan.json_path}: expected a JSON object with lists of pieces")
    cuts: dict[str, Cut] = {}
    splits, skipped, found = [], [], 0
    for s, name_split in enumerate(SPLITS):
        for i, steps in enumerate((data.get(name_split) or [])[: plan.limit]):
            found += 1
            name = f"{name_split}/{i:04d}"
            try:
                cut = cut_steps(split, steps, plan.step_quarters)
            except (TypeError, ValueError) as e:
                skipped.append((name, str(e)))
                continue
            cuts[name] = cut
            splits.append(s)
    if not cuts:
        raise DataError(f"{plan.slug}: no piece of the JSON could be split by {split}")
    return cuts, splits, counts_info(found, len(cuts), skipped, {})


__all__ = [
    "OneTrackError",
    "Parted",
    "PartsSplit",
    "closing_note",
    "encode_piece",
    "parts_loader",
    "load_parts",
    "names_match",
    "part_key",
    "select",
]
