"""Write the shipped primers ``folk.mid`` and ``chorale.mid`` next to this script.

Both are original two-bar phrases written for livegen (not taken from any corpus), in
4/4 at 120 BPM: a monophonic folk-like tune in G major for melody models and a
four-voice I-IV-V-I progression in C for polyphonic ones. Run it again to rebuild them:
``python configs/primers/make_primers.py``.
"""

from __future__ import annotations

from pathlib import Path

import mido

TICKS_PER_BEAT = 480
HERE = Path(__file__).resolve().parent

# (pitch, start, duration) in quarter notes.
FOLK = [  # G major, ends on the dominant (D) so that it asks for an answer
    (67, 0.0, 1.0),  # G4
    (71, 1.0, 0.5),  # B4
    (69, 1.5, 0.5),  # A4
    (67, 2.0, 0.5),  # G4
    (71, 2.5, 0.5),  # B4
    (74, 3.0, 1.0),  # D5
    (76, 4.0, 0.5),  # E5
    (74, 4.5, 0.5),  # D5
    (71, 5.0, 0.5),  # B4
    (67, 5.5, 0.5),  # G4
    (69, 6.0, 1.0),  # A4
    (62, 7.0, 1.0),  # D4
]

# One half-note chord per two beats, voices bass, tenor, alto, soprano.
CHORALE_CHORDS = [
    (48, 55, 64, 72),  # I   C3 G3 E4 C5
    (53, 57, 65, 72),  # IV  F3 A3 F4 C5
    (55, 59, 62, 71),  # V   G3 B3 D4 B4
    (48, 55, 64, 72),  # I   C3 G3 E4 C5
]
CHORALE = [(pitch, 2.0 * i, 2.0) for i, chord in enumerate(CHORALE_CHORDS) for pitch in chord]


def write(path: Path, notes, *, key: str, name: str, velocity: int = 80) -> None:
    """One track: tempo, meter, key, then the notes on channel 1 with every note-off."""
    events = []  # (tick, order, message); offs sort before ons at the same tick
    for pitch, start, duration in notes:
        on = round(start * TICKS_PER_BEAT)
        off = round((start + duration) * TICKS_PER_BEAT)
        events.append((on, 1, mido.Message("note_on", note=pitch, velocity=velocity)))
        events.append((off, 0, mido.Message("note_off", note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    track.append(mido.MetaMessage("key_signature", key=key, time=0))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    midi.save(path)


def main() -> None:
    write(HERE / "folk.mid", FOLK, key="G", name="livegen primer: folk (G major)")
    write(HERE / "chorale.mid", CHORALE, key="C", name="livegen primer: chorale I-IV-V-I (C)")
    for name in ("folk.mid", "chorale.mid"):
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
