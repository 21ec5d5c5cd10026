"""Offline continuation: a Player driven tick by tick from a primer MIDI file.

The Player is the one the live engine drives, stepped the same way: it listens to the
primer (teacher forcing, not playing), answers from the primer's last tick on, and
hears its own answers back. So an offline continuation is what livegen would play
live after the same phrase, with the same seed.

Also here: reading a primer from a MIDI file and writing primer and continuation to
one, both in quarter-note notes arrays (see ``livegen.notes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mido
import numpy as np

from livegen.notes import (
    EMPTY_TICK,
    END,
    PITCH,
    START,
    VELOCITY,
    ticks_to_notes,
)

if TYPE_CHECKING:  # torch and the model stay unimported until a continuation is asked for
    from livegen.checkpoint import Loaded

DEFAULT_BPM = 120.0
WRITE_TICKS_PER_BEAT = 480


class GenerateError(ValueError):
    """A primer or request that cannot be continued: one line, naming the file if any."""


@dataclass(frozen=True)
class MidiScore:
    """The notes of a MIDI file and the timing needed to write a continuation back."""

    notes: np.ndarray  # (N, 4) pitch, start, end, velocity; times in quarter notes
    bpm: float  # the file's first tempo (120 when it has none)
    beats_per_bar: float  # quarter notes per bar, from the first time signature (4 if none)


# ---- MIDI files -------------------------------------------------------------------------------
def read_midi(path: str | Path) -> MidiScore:
    """Read the pitched notes of a MIDI file, with its first tempo and time signature.

    Notes come from the training data's parser (``livegen.data.midi_notes``), so a primer
    is read exactly as training pieces are: times in quarter notes (ticks / ticks_per_beat),
    drums on channel 10 skipped, a note-on of velocity 0 is a note-off. Any failure is a
    GenerateError naming the file.
    """
    from livegen.data import midi_notes

    path = Path(path)
    if path.is_dir():
        raise GenerateError(f"{path}: is a folder, not a MIDI file")
    if not path.exists():
        raise GenerateError(f"{path}: no such MIDI file")
    try:
        notes = midi_notes(path)
        # A second, cheap pass for what the notes parser drops: the tempo and the meter.
        midi = mido.MidiFile(path, clip=True)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError... on bad data
        raise GenerateError(f"{path}: not a readable MIDI file ({_one_line(e)})") from None

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


def write_midi(
    path: str | Path,
    primer_notes: np.ndarray,
    continuation_notes: np.ndarray,
    *,
    bpm: float = DEFAULT_BPM,
    beats_per_bar: float = 4.0,
) -> None:
    """A type-1 MIDI file: the primer on track 1 (channel 1), the continuation on track 2
    (channel 2); the primer's tempo and meter; every note-on has its note-off."""
    midi = mido.MidiFile(type=1, ticks_per_beat=WRITE_TICKS_PER_BEAT)
    numerator, denominator = _time_signature(beats_per_bar)
    head = [
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0),
    ]
    midi.tracks.append(_track("primer", primer_notes, channel=0, head=head))
    midi.tracks.append(_track("livegen continuation", continuation_notes, channel=1, head=[]))
    try:
        midi.save(Path(path))
    except OSError as e:
        raise GenerateError(f"{path}: cannot write MIDI file ({e.strerror or e})") from e


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


# ---- continuation -----------------------------------------------------------------------------
def continue_piece(
    loaded_checkpoint: Loaded,
    primer_notes: np.ndarray,
    *,
    bars: int = 8,
    temperature: float = 0.9,
    top_p: float = 1.0,
    seed: int | None = None,
    beats_per_bar: float = 4,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Continue a primer for ``bars`` bars with a loaded checkpoint.

    Returns ``(primer_notes_on_grid, continuation_notes)``: the primer as the codec hears
    it (folded into range, quantized), and the continuation, both in quarter notes from
    the primer's start. The continuation starts where the primer's last note ends. The
    same seed gives the same continuation.
    """
    import torch  # lazily: reading and writing MIDI need no torch

    from livegen.player import Player
    from livegen.sampling import Sampler

    if bars < 1:
        raise GenerateError(f"bars must be at least 1, not {bars}")
    if temperature < 0:
        raise GenerateError(f"temperature must be >= 0, not {temperature}")
    if not 0 < top_p <= 1:
        raise GenerateError(f"top-p must be in (0, 1], not {top_p}")
    if beats_per_bar <= 0:
        raise GenerateError(f"beats per bar must be positive, not {beats_per_bar}")

    codec = loaded_checkpoint.codec
    tpq = codec.ticks_per_quarter
    ticks = codec.ticks(np.asarray(primer_notes, dtype=np.float64).reshape(-1, 4))
    if len(ticks) < 2:
        raise GenerateError("the primer has no notes to continue")
    # ticks[-1] holds only the last note-offs: that tick is the continuation's first, so the
    # answer follows the primer without a gap (the Player hears those offs as the musician's).
    n_primer = len(ticks) - 1
    n_continue = round(bars * beats_per_bar * tpq)

    model = loaded_checkpoint.model
    model.eval()
    sampler = Sampler(temperature=temperature, top_p=top_p, seed=seed)
    player = Player(model, codec, sampler, device=device)
    answered = []
    with torch.no_grad():
        for tick in ticks[: n_primer - 1]:
            player.step(tick, play=False)
        # Each step returns the Player's plan for the next tick.
        answered.append(player.step(ticks[n_primer - 1], play=True))
        for n in range(n_primer, n_primer + n_continue - 1):
            heard = ticks[n] if n < len(ticks) else EMPTY_TICK
            answered.append(player.step(heard, play=True))

    primer_on_grid = ticks_to_notes(ticks, tpq)
    continuation = ticks_to_notes(answered, tpq)
    if len(continuation):
        continuation[:, START] += n_primer / tpq
        continuation[:, END] += n_primer / tpq
    return primer_on_grid, continuation
