"""MIDI files: reading notes (for training data and primers) and writing continuations.

Every ``.mid`` livegen reads or writes goes through here, in quarter-note notes arrays (see
:mod:`livegen.notes`): times are ticks / ticks_per_beat, so tempo changes never move notes.
Reading merges all channels but drums (channel 10); a note-on of velocity 0 is a note-off.
A file that cannot be read or written is a :class:`MidiFileError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from livegen.errors import LivegenError
from livegen.notes import END, PITCH, START, VELOCITY, sort_notes

DEFAULT_BPM = 120.0
WRITE_TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


class MidiFileError(LivegenError, ValueError):
    """A MIDI file that is missing, unreadable or cannot be written: one line naming it."""


@dataclass(frozen=True)
class MidiScore:
    """The notes of a MIDI file and the timing needed to write a continuation back."""

    notes: np.ndarray  # (N, 4) pitch, start, end, velocity; times in quarter notes
    bpm: float  # the file's first tempo (120 when it has none)
    beats_per_bar: float  # quarter notes per bar, from the first time signature (4 if none)


# ---- reading ----------------------------------------------------------------------------------
def midi_notes(path: str | Path) -> np.ndarray:
    """Notes of a MIDI file in quarter notes (ticks / ticks_per_beat, tempo ignored).

    All channels but drums (channel 10) are merged; note-on with velocity 0 is a note-off;
    a re-struck sounding key ends the earlier note; notes still on end with their track.
    Raises whatever mido raises on a bad file (the training data's parser counts and skips
    those); :func:`read_midi` turns them into one :class:`MidiFileError`.
    """
    return _notes(mido.MidiFile(str(path), clip=True))


def read_midi(path: str | Path) -> MidiScore:
    """Read the pitched notes of a MIDI file, with its first tempo and time signature.

    The notes are those :func:`midi_notes` gives, so a primer is read exactly as training
    pieces are. Any failure is a MidiFileError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise MidiFileError(f"{path}: is a folder, not a MIDI file")
    if not path.exists():
        raise MidiFileError(f"{path}: no such MIDI file")
    try:
        midi = mido.MidiFile(path, clip=True)
        notes = _notes(midi)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError... on bad data
        raise MidiFileError(f"{path}: not a readable MIDI file ({_one_line(e)})") from None

    tempo: tuple[int, int] | None = None  # (tick, microseconds per quarter) of the first tempo
    meter: tuple[int, float] | None = None  # (tick, quarters per bar) of the first signature
    for track in midi.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "set_tempo" and (tempo is None or now < tempo[0]):
                tempo = (now, msg.tempo)
            elif msg.type == "time_signature" and (meter is None or now < meter[0]):
                meter = (now, msg.numerator * 4.0 / msg.denominator)
    bpm = mido.tempo2bpm(tempo[1]) if tempo is not None and tempo[1] > 0 else DEFAULT_BPM
    beats_per_bar = meter[1] if meter is not None and meter[1] > 0 else 4.0
    return MidiScore(notes=notes, bpm=float(bpm), beats_per_bar=beats_per_bar)


def midi_groups(path: str | Path, by: str) -> list[tuple[int, str, np.ndarray]]:
    """The notes of a MIDI file grouped ``by`` "track" or "channel", as :func:`midi_notes`
    reads them: ``(number, name, notes)`` per group with notes, numbered from 1 as a DAW
    shows them; a track's name is its ``track_name``, a channel has none."""
    midi = mido.MidiFile(str(path), clip=True)
    names = [next((m.name for m in t if m.type == "track_name"), "") for t in midi.tracks]
    rows = _rows(midi)
    column = 0 if by == "track" else 1
    groups = []
    for key in sorted({r[column] for r in rows}):
        notes = _to_notes([r[2:] for r in rows if r[column] == key], midi.ticks_per_beat)
        groups.append((key + 1, names[key] if by == "track" else "", notes))
    return groups


def _notes(midi: mido.MidiFile) -> np.ndarray:
    return _to_notes([r[2:] for r in _rows(midi)], midi.ticks_per_beat)


def _rows(midi: mido.MidiFile) -> list[tuple[int, int, int, int, int, int]]:
    """``(track, channel, pitch, start, end, velocity)`` per note, times in file ticks."""
    tpb = midi.ticks_per_beat
    if not tpb or tpb <= 0:
        raise ValueError(f"unsupported time division {tpb}")
    rows: list[tuple[int, int, int, int, int, int]] = []
    for index, track in enumerate(midi.tracks):
        t = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (on, vel)
        for msg in track:
            t += msg.time
            if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
                continue
            key = (msg.channel, msg.note)
            if key in sounding:  # a note-off, or a re-strike, ends the sounding note
                start, vel = sounding.pop(key)
                rows.append((index, msg.channel, msg.note, start, t, vel))
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[key] = (t, msg.velocity)
        rows.extend((index, c, p, s, t, v) for (c, p), (s, v) in sounding.items())
    return rows


def _to_notes(rows: list, tpb: int) -> np.ndarray:
    notes = np.asarray([r for r in rows if r[2] > r[1]], dtype=np.float64).reshape(-1, 4)
    notes[:, 1:3] /= tpb
    return sort_notes(notes)


# ---- writing ----------------------------------------------------------------------------------
def write_midi(
    path: str | Path,
    primer_notes: np.ndarray,
    continuation_notes: np.ndarray,
    *,
    bpm: float = DEFAULT_BPM,
    beats_per_bar: float = 4.0,
    names: tuple[str, str] = ("primer", "livegen continuation"),
) -> None:
    """A type-1 MIDI file: the primer on track 1 (channel 1), the continuation on track 2
    (channel 2), named ``names``; the primer's tempo and meter; every note-on has its
    note-off."""
    midi = mido.MidiFile(type=1, ticks_per_beat=WRITE_TICKS_PER_BEAT)
    numerator, denominator = _time_signature(beats_per_bar)
    head = [
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
    ]
    midi.tracks.append(_track(names[0], primer_notes, channel=0, head=head))
    midi.tracks.append(_track(names[1], continuation_notes, channel=1, head=[]))
    try:
        midi.save(Path(path))
    except OSError as e:
        raise MidiFileError(f"{path}: cannot write MIDI file ({e.strerror or e})") from e


def _track(name: str, notes: np.ndarray, *, channel: int, head: list) -> mido.MidiTrack:
    events: list[tuple[int, int, int, int]] = []  # (tick, 0 off / 1 on, pitch, velocity)
    for row in notes:
        pitch = int(row[PITCH])
        on = round(row[START] * WRITE_TICKS_PER_BEAT)
        off = max(round(row[END] * WRITE_TICKS_PER_BEAT), on + 1)
        velocity = int(np.clip(round(row[VELOCITY]), 1, 127))
        events.append((on, 1, pitch, velocity))
        events.append((off, 0, pitch, 0))
    # Offs before ons at one tick, so a re-struck pitch is released before it sounds again.
    events.sort()
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0), *head])
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        track.append(
            mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now)
        )
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _time_signature(beats_per_bar: float) -> tuple[int, int]:
    """Quarters per bar as a MIDI time signature: 4 -> 4/4, 3 -> 3/4, 3.0 -> 3/4, 1.5 -> 3/8."""
    for denominator in (4, 8, 16):
        numerator = beats_per_bar * denominator / 4
        if numerator == int(numerator) and 1 <= numerator <= 255:
            return int(numerator), denominator
    return 4, 4


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
