"""livegen.midifile: notes read as training data and primers are, files written back whole,
and one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from livegen.errors import LivegenError
from livegen.midifile import MidiFileError, midi_notes, read_midi, write_midi
from livegen.notes import END, START, make_notes
from tests.data.helpers import EXPECTED_MIDI, write_two_tracks

PRIMERS = Path(__file__).resolve().parent.parent / "configs" / "primers"


def assert_every_on_has_an_off(path: Path) -> None:
    for track in mido.MidiFile(path).tracks:
        sounding: set[tuple[int, int]] = set()
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                assert (msg.channel, msg.note) not in sounding, "struck twice without an off"
                sounding.add((msg.channel, msg.note))
            elif msg.type in ("note_on", "note_off"):
                sounding.remove((msg.channel, msg.note))
        assert not sounding, f"hanging notes {sounding}"


def test_tracks_merge_drums_skipped_velocity_zero_is_off(tmp_path):
    write_two_tracks(tmp_path / "song.mid")
    np.testing.assert_array_equal(midi_notes(tmp_path / "song.mid"), EXPECTED_MIDI)
    np.testing.assert_array_equal(read_midi(tmp_path / "song.mid").notes, EXPECTED_MIDI)


def test_times_do_not_depend_on_resolution(tmp_path):
    write_two_tracks(tmp_path / "a.mid", tpb=96)
    np.testing.assert_array_equal(midi_notes(tmp_path / "a.mid"), EXPECTED_MIDI)


def test_shipped_primers_read():
    folk = read_midi(PRIMERS / "folk.mid")
    chorale = read_midi(PRIMERS / "chorale.mid")
    assert (folk.bpm, folk.beats_per_bar) == (120.0, 4.0)
    assert folk.notes[:, END].max() == 8.0 and chorale.notes[:, END].max() == 8.0
    assert len(chorale.notes) == 16
    starts = folk.notes[:, START]
    assert len(np.unique(starts)) == len(starts), "the folk primer is monophonic"


def test_write_read_round_trip_keeps_notes_tempo_meter_and_tracks(tmp_path):
    primer = make_notes([(60, 0, 1, 80), (64, 1, 2.5, 90)])
    continuation = make_notes([(67, 2.5, 3, 100), (72, 3, 4.5, 64)])
    out = tmp_path / "out.mid"
    write_midi(out, primer, continuation, bpm=96.0, beats_per_bar=1.5)
    back = read_midi(out)
    np.testing.assert_array_equal(back.notes, np.concatenate([primer, continuation]))
    assert back.bpm == pytest.approx(96.0) and back.beats_per_bar == 1.5
    channels = [{m.channel for m in t if m.type == "note_on"} for t in mido.MidiFile(out).tracks]
    assert channels == [{0}, {1}]  # primer on channel 1, continuation on channel 2
    assert_every_on_has_an_off(out)


def test_restruck_pitch_round_trip(tmp_path):
    notes = make_notes([(60, 0, 1), (60, 1, 2), (64, 1, 1.5)])
    out = tmp_path / "restrike.mid"
    write_midi(out, notes, make_notes([(60, 2, 3), (60, 3, 4)]))
    assert len(read_midi(out).notes) == 5
    assert_every_on_has_an_off(out)


def test_read_skips_drums_and_takes_the_first_tempo(tmp_path):
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=0),
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_on", channel=0, note=62, velocity=70, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=0, time=96),
            mido.Message("note_on", channel=0, note=62, velocity=0, time=96),  # vel 0 = off
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=0),
        ]
    )
    midi = mido.MidiFile(ticks_per_beat=96)
    midi.tracks.append(track)
    path = tmp_path / "drums.mid"
    midi.save(path)
    score = read_midi(path)
    np.testing.assert_array_equal(score.notes, [[62, 0.0, 2.0, 70]])
    assert score.bpm == pytest.approx(90.0)
    assert score.beats_per_bar == 3.0


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00", b"not a midi file at all\n" * 3])
def test_malformed_midi_is_one_line_naming_the_file(tmp_path, content):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    with pytest.raises(MidiFileError) as err:
        read_midi(bad)
    message = str(err.value)
    assert str(bad) in message and "\n" not in message
    assert isinstance(err.value, LivegenError)


def test_missing_midi_or_a_folder_names_the_file(tmp_path):
    with pytest.raises(MidiFileError, match="nope.mid"):
        read_midi(tmp_path / "nope.mid")
    with pytest.raises(MidiFileError, match="is a folder"):
        read_midi(tmp_path)


def test_unwritable_path_is_one_line(tmp_path):
    notes = make_notes([(60, 0, 1)])
    with pytest.raises(MidiFileError, match="cannot write"):
        write_midi(tmp_path / "no" / "dir" / "o.mid", notes, notes)
