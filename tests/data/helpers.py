"""Tiny sources written by the data tests: a two-track MIDI file, ABC tunes, a loader."""

from __future__ import annotations

from pathlib import Path

import mido

from livegen.data import Piece, load_pieces
from livegen.notes import make_notes


def load(source, tmp_path: Path, **kw):
    kw.setdefault("jobs", 1)
    return load_pieces(source, cache_dir=tmp_path / "cache", progress=False, **kw)


def all_pieces(split) -> list[Piece]:
    return split.train + split.valid + split.test


def write_two_tracks(path: Path, tpb: int = 480) -> None:
    """Two tracks: a melody with a tempo change, and a bass plus drums on channel 10."""
    mid = mido.MidiFile(ticks_per_beat=tpb)
    lead = mido.MidiTrack()
    lead.append(mido.MetaMessage("set_tempo", tempo=400000, time=0))
    lead.append(mido.Message("note_on", note=60, velocity=90, time=0))
    lead.append(mido.Message("note_on", note=60, velocity=0, time=tpb))  # velocity 0 = off
    lead.append(mido.MetaMessage("set_tempo", tempo=900000, time=0))  # must not move notes
    lead.append(mido.Message("note_on", note=64, velocity=70, time=tpb // 2))
    lead.append(mido.Message("note_off", note=64, velocity=0, time=tpb // 2))
    mid.tracks.append(lead)
    low = mido.MidiTrack()
    low.append(mido.Message("note_on", channel=1, note=36, velocity=100, time=0))
    low.append(mido.Message("note_on", channel=9, note=38, velocity=127, time=0))  # drum
    low.append(mido.Message("note_off", channel=9, note=38, velocity=0, time=tpb // 4))
    low.append(mido.Message("note_off", channel=1, note=36, velocity=0, time=tpb * 2 - tpb // 4))
    mid.tracks.append(low)
    mid.save(str(path))


EXPECTED_MIDI = make_notes([(60, 0.0, 1.0, 90), (64, 1.5, 2.0, 70), (36, 0.0, 2.0, 100)])

ABC = """%abc-2.1
O: Testland

X:1
T: First
M:4/4
L:1/4
K:C
C D E F- | F G A2 |]

X:2
T: Second
M:3/4
L:1/8
K:G
{a}G2 B2 d2 | [GBd]6 |]
"""


def write_tracks(path, tracks: list[list[tuple[int, int, int, int]]], names=None, meter=None):
    """Tracks of (channel, pitch, start, end) in quarter notes at 96 ticks per quarter."""
    mid = mido.MidiFile(ticks_per_beat=96)
    for i, notes in enumerate(tracks):
        events = []
        for ch, p, s, e in notes:
            events += [(s * 96, 1, "note_on", ch, p), (e * 96, 0, "note_off", ch, p)]
        track = mido.MidiTrack()
        if names:
            track.append(mido.MetaMessage("track_name", name=names[i], time=0))
        if meter and i == 0:
            track.append(mido.MetaMessage("time_signature", numerator=meter, denominator=4))
        now = 0
        for t, _, kind, ch, p in sorted(events):
            track.append(mido.Message(kind, channel=ch, note=p, velocity=64, time=int(t - now)))
            now = t
        mid.tracks.append(track)
    mid.save(str(path))
