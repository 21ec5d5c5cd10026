"""Musical checks of a four-voice harmonization on a grid, the same for Bach's and livegen's.

A harmonization is a grid: one row per 16th step (``STEPS_PER_BEAT`` steps to the quarter
note), one column per voice, soprano, alto, tenor, bass (``S, A, T, B``), each a MIDI pitch
or a rest (negative or None). This is the BL2012 voices format
(``jsb_chorales_16th_voices.json``); livegen's output is put on the same grid by
:func:`grid_from_parts`, so both are read the same way.

**Notes from a grid.** A grid cannot tell a re-struck note from a held one: a voice's note
starts at a step whose pitch differs from the step before (or follows a rest), and goes on
while the pitch stays. A repeated note therefore counts once, in Bach's version and in
livegen's alike.

A check compares a part that is *given* (yours: the melody for ``chorale_harmony``) with
the voices that are *judged* (mine: livegen's part, or the same voices of Bach's version):

- **in key**: the share of the judged voices' notes whose pitch class lies in the key. The
  key is estimated from the given voices alone (Krumhansl-Schmuckler: the duration-weighted
  pitch-class histogram correlated with the Krumhansl-Kessler profiles of the 24 keys), so
  Bach's and livegen's versions of a piece are judged in the same key. A major key's scale
  is its 7 degrees; a minor key's is the natural minor plus the raised 6th and 7th (its
  melodic and harmonic forms: Bach's minor chorales use the leading tone throughout).
- **consonant beats**: the share of beats (quarter-note onsets, steps 0, 4, 8... from the
  piece's start) with at least two voices sounding at which the sounding pitch classes of
  every voice (held notes included) form a chord or a subset of one (``CHORDS``): a major,
  minor or diminished triad, or a dominant seventh. Strictly the last two are dissonant,
  but they are chords a harmonization is built of (vii, ii in minor, V7), not notes against
  the harmony; with them Bach's test chorales score 82% of beats, with major and minor
  triads only 75%, and four random pitch classes 15%. Other seventh chords, suspensions,
  passing tones and clusters on a beat are not consonant.
- **parallels**: parallel perfect fifths and octaves (unisons and compound intervals
  included) between the outer voices, soprano and bass, counted on beats as textbooks do:
  at two consecutive beats where both sound, both voices move in the same direction and
  the interval is a perfect fifth (7 semitones modulo 12) or an octave (0 modulo 12) at
  both. Per 100 beats at which both outer voices sound.
- **out of range**: the judged voices' notes outside their voice's usual range
  (``RANGES``: S 60-81, A 53-74, T 48-69, B 40-62, the SATB ranges of the textbooks a
  step wider), per 100 of their notes.

Counts (not rates) are kept in :class:`Counts`, so pieces pool by adding them: a rate
over a test set is pooled, not a mean of per-piece rates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from livegen.notes import END, PITCH, START

S, A, T, B = 0, 1, 2, 3
VOICES = ("soprano", "alto", "tenor", "bass")
STEPS_PER_BEAT = 4  # 16th steps per quarter note
REST = -1
RANGES: dict[int, tuple[int, int]] = {S: (60, 81), A: (53, 74), T: (48, 69), B: (40, 62)}

# Krumhansl-Kessler key profiles (Krumhansl 1990), tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = frozenset({0, 2, 4, 5, 7, 9, 11})
MINOR_SCALE = frozenset({0, 2, 3, 5, 7, 8, 10, 9, 11})  # natural minor + raised 6th and 7th
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# The chords of a consonant beat, from the root: major, minor, diminished triad, dominant 7th.
CHORD_SHAPES = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 7, 10))
CHORDS = tuple(
    frozenset((root + s) % 12 for s in shape) for root in range(12) for shape in CHORD_SHAPES
)


VOICE_WORDS = {"s": S, "soprano": S, "a": A, "alto": A, "t": T, "tenor": T, "b": B, "bass": B}


def parse_voices(text: str | list) -> tuple[int, ...] | None:
    """``"ATB"``, ``"alto+tenor+bass"``, ``"alto, tenor, bass"`` or ``["Alto", "Bass"]`` as
    voice columns, ascending; None when a word is not a voice (``"melody"``)."""
    words = [str(w) for w in text] if isinstance(text, list) else [str(text)]
    out: list[int] = []
    for word in words:
        tokens = re.findall(r"[A-Za-z]+", word.lower())
        if len(tokens) == 1 and set(tokens[0]) <= set("satb") and tokens[0] not in VOICE_WORDS:
            tokens = list(tokens[0])  # "ATB"
        for token in tokens:
            if token not in VOICE_WORDS:
                return None
            out.append(VOICE_WORDS[token])
    return tuple(sorted(set(out))) or None


class HarmonyError(ValueError):
    """A grid that cannot be checked (wrong shape, a pitch that is not a MIDI pitch)."""


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11
    minor: bool

    def scale(self) -> frozenset[int]:
        steps = MINOR_SCALE if self.minor else MAJOR_SCALE
        return frozenset((self.tonic + s) % 12 for s in steps)

    def __str__(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {'minor' if self.minor else 'major'}"


@dataclass(frozen=True)
class Counts:
    """What the checks counted over one piece or many (add them to pool)."""

    notes: int = 0  # notes of the judged voices
    in_key: int = 0
    beats: int = 0  # beats with at least two voices sounding
    consonant: int = 0
    outer_beats: int = 0  # beats with soprano and bass both sounding
    fifths: int = 0  # parallel fifths between soprano and bass, on beats
    octaves: int = 0
    out_of_range: int = 0  # notes of the judged voices outside their range

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def rates(self) -> dict[str, float | None]:
        """The four figures (None where nothing was there to count)."""

        def share(part: int, whole: int, per: float = 1.0) -> float | None:
            return per * part / whole if whole else None

        return {
            "in_key": share(self.in_key, self.notes),
            "consonant_beats": share(self.consonant, self.beats),
            "parallels_per_100_beats": share(self.fifths + self.octaves, self.outer_beats, 100),
            "out_of_range_per_100_notes": share(self.out_of_range, self.notes, 100),
        }


# ---- grids ------------------------------------------------------------------------------------
def as_grid(steps: Sequence[Sequence[int | None]] | np.ndarray) -> np.ndarray:
    """A voices grid as an int64 array (steps, 4) with rests as ``REST``."""
    rows = [[REST if p is None or p < 0 else p for p in step] for step in steps]
    try:
        grid = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
    except (TypeError, ValueError):
        raise HarmonyError("a grid is a list of steps of 4 pitches (S, A, T, B)") from None
    if grid.shape[1] != 4 and len(grid):
        raise HarmonyError(f"a grid has 4 voices per step (S, A, T, B), not {grid.shape[1]}")
    if np.any(grid > 127):
        raise HarmonyError("a grid's pitches are MIDI pitches 0..127 (negative: a rest)")
    return grid.reshape(-1, 4)


def notes_on_grid(notes: np.ndarray, n_steps: int, voices: Sequence[int]) -> np.ndarray:
    """Notes (pitch, start, end, velocity in quarter notes) as grid columns ``voices``.

    At each step the sounding pitches, highest first, fill the columns in order, except
    that the lowest always goes to the last column named (the bass, when a part of alto,
    tenor and bass sounds fewer notes than three). With more pitches than columns, the
    ones between the highest and the lowest that find no column are left out
    (:func:`crowded_steps` counts those steps).
    """
    grid = np.full((n_steps, 4), REST, dtype=np.int64)
    sounding: list[list[int]] = [[] for _ in range(n_steps)]
    for row in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
        s = max(0, round(row[START] * STEPS_PER_BEAT))
        e = min(n_steps, round(row[END] * STEPS_PER_BEAT))
        for i in range(s, e):
            sounding[i].append(int(row[PITCH]))
    for i, pitches in enumerate(sounding):
        pitches = sorted(set(pitches), reverse=True)
        if not pitches:
            continue
        if len(pitches) > len(voices):  # the highest that fit, and the lowest
            pitches = [*pitches[: len(voices) - 1], pitches[-1]]
        grid[i, voices[-1]] = pitches[-1]
        for col, p in zip(voices[: len(pitches) - 1], pitches[:-1], strict=True):
            grid[i, col] = p
    return grid


def crowded_steps(notes: np.ndarray, n_steps: int, n_voices: int) -> int:
    """Steps at which ``notes`` sound more pitches than ``n_voices`` (some are not judged)."""
    count = np.zeros(n_steps + 1, dtype=np.int64)
    for row in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
        s = min(n_steps, max(0, round(row[START] * STEPS_PER_BEAT)))
        e = min(n_steps, max(s, round(row[END] * STEPS_PER_BEAT)))
        count[s] += 1
        count[e] -= 1
    return int(np.sum(np.cumsum(count)[:n_steps] > n_voices))


def grid_from_parts(
    yours: np.ndarray, yours_voices: Sequence[int], mine: np.ndarray, mine_voices: Sequence[int]
) -> np.ndarray:
    """Your notes and livegen's as one grid: ``chorale_harmony`` is ``(S,)`` and ``(A, T, B)``."""
    ends = [float(np.max(n[:, END])) for n in (yours, mine) if len(n)]
    n_steps = round(max(ends, default=0.0) * STEPS_PER_BEAT)
    grid = notes_on_grid(yours, n_steps, yours_voices)
    theirs = notes_on_grid(mine, n_steps, mine_voices)
    grid[:, list(mine_voices)] = theirs[:, list(mine_voices)]
    return grid


def voice_notes(column: np.ndarray) -> list[tuple[int, int, int]]:
    """One voice's notes as ``(pitch, first step, steps)``: a new pitch or a rest ends one."""
    out: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(column) + 1):
        if i == len(column) or column[i] != column[start]:
            if column[start] >= 0:
                out.append((int(column[start]), start, i - start))
            start = i
    return out


# ---- the checks -------------------------------------------------------------------------------
def estimate_key(grid: np.ndarray, voices: Iterable[int]) -> Key | None:
    """The Krumhansl-Schmuckler key of ``voices``, weighted by duration (None: no notes)."""
    histogram = np.zeros(12)
    for v in voices:
        column = grid[:, v]
        np.add.at(histogram, column[column >= 0] % 12, 1.0)
    return key_of_histogram(histogram)


# The 24 key profiles, major keys on C..B then minor keys, centred and scaled to unit norm:
# the correlation with a histogram is then one matrix-vector product (the sampling guards
# estimate the key on the tick thread, livegen/voice_guards.py).
_PROFILES = np.stack(
    [np.roll(prof, t) for prof in (MAJOR_PROFILE, MINOR_PROFILE) for t in range(12)]
)  # (24, 12)
_PROFILES = _PROFILES - _PROFILES.mean(axis=1, keepdims=True)
_PROFILES /= np.linalg.norm(_PROFILES, axis=1, keepdims=True)


def key_of_histogram(histogram: np.ndarray) -> Key | None:
    """The key whose profile correlates best with a pitch-class histogram (12,); None when
    it is empty or flat. Ties go to the first key, major C..B before minor."""
    h = np.asarray(histogram, dtype=np.float64)  # (12,)
    if not h.any() or np.all(h == h[0]):
        return None
    r = _PROFILES @ (h - h.mean())  # (24,) correlation times |h - mean|: same argmax
    best = int(np.argmax(r))
    return Key(best % 12, best >= 12)


def is_consonant(pitches: Iterable[int]) -> bool:
    """A sonority is consonant when its pitch classes lie within one of ``CHORDS``."""
    classes = frozenset(int(p) % 12 for p in pitches)
    return any(classes <= chord for chord in CHORDS)


def beat_steps(n_steps: int) -> range:
    return range(0, n_steps, STEPS_PER_BEAT)


def count_consonant(grid: np.ndarray) -> tuple[int, int]:
    """``(beats with two or more voices sounding, of them consonant)``."""
    beats = consonant = 0
    for i in beat_steps(len(grid)):
        sounding = grid[i][grid[i] >= 0]
        if len(sounding) >= 2:
            beats += 1
            consonant += is_consonant(sounding)
    return beats, consonant


def count_parallels(grid: np.ndarray, upper: int = S, lower: int = B) -> tuple[int, int, int]:
    """``(beats where both voices sound, parallel fifths, parallel octaves)`` on beats."""
    outer = fifths = octaves = 0
    before: tuple[int, int] | None = None
    for i in beat_steps(len(grid)):
        hi, lo = int(grid[i, upper]), int(grid[i, lower])
        if hi < 0 or lo < 0:
            before = None  # a rest breaks the line: no motion to judge across it
            continue
        outer += 1
        if before is not None:
            up, down = hi - before[0], lo - before[1]
            same_way = up * down > 0  # both move, and the same way
            was, now = (before[0] - before[1]) % 12, (hi - lo) % 12
            if same_way and was == now == 7:
                fifths += 1
            elif same_way and was == now == 0:
                octaves += 1
        before = (hi, lo)
    return outer, fifths, octaves


def check(grid: np.ndarray, given: Sequence[int], judged: Sequence[int]) -> Counts:
    """Every check of one piece: the key from ``given``, notes and ranges of ``judged``."""
    grid = as_grid(grid)
    key = estimate_key(grid, given)
    scale = key.scale() if key is not None else frozenset()
    notes = in_key = out_of_range = 0
    for v in judged:
        low, high = RANGES[v]
        for pitch, _, _ in voice_notes(grid[:, v]):
            notes += 1
            in_key += pitch % 12 in scale
            out_of_range += not low <= pitch <= high
    beats, consonant = count_consonant(grid)
    outer, fifths, octaves = count_parallels(grid)
    return Counts(notes, in_key, beats, consonant, outer, fifths, octaves, out_of_range)


# ---- against Bach -----------------------------------------------------------------------------
# Each figure as a rate of faults (lower is better), for the goal "within 2x of Bach": a
# share of good notes near 1 would pass at half of it, so shares are judged by their faults.
FAULTS = (
    ("notes out of key, %", lambda c: _per(c.notes - c.in_key, c.notes)),
    ("beats not consonant, %", lambda c: _per(c.beats - c.consonant, c.beats)),
    ("parallel 5ths/8ves per 100 beats", lambda c: _per(c.fifths + c.octaves, c.outer_beats)),
    ("notes out of range per 100 notes", lambda c: _per(c.out_of_range, c.notes)),
)


def _per(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


@dataclass(frozen=True)
class Verdict:
    figure: str
    bach: float | None
    livegen: float | None
    ratio: float | None  # livegen / Bach; None where Bach has no faults or nothing was counted
    passed: bool | None  # None: the figure does not apply (nothing to count)


def compare(bach: Counts, livegen: Counts, factor: float = 2.0) -> list[Verdict]:
    """Each fault rate of livegen against Bach's: passed when at most ``factor`` times his.

    Where Bach has none of a fault, livegen passes only with none either.
    """
    out = []
    for figure, rate in FAULTS:
        theirs, ours = rate(bach), rate(livegen)
        if theirs is None or ours is None:
            out.append(Verdict(figure, theirs, ours, None, None))
            continue
        ratio = ours / theirs if theirs else None
        out.append(Verdict(figure, theirs, ours, ratio, ours <= factor * theirs))
    return out
