"""livegen.data.parse: MIDI, ABC and MusicXML items to notes; failures skipped and counted."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from livegen.data import DataError, load_pieces
from livegen.notes import make_notes
from tests.data.helpers import ABC, EXPECTED_MIDI, all_pieces, load, write_two_tracks


def test_a_midi_file_in_a_folder_is_one_piece(tmp_path):
    write_two_tracks(tmp_path / "song.mid")
    split = load(tmp_path, tmp_path)
    (piece,) = all_pieces(split)
    assert piece.name == "song.mid"
    np.testing.assert_array_equal(piece.notes, EXPECTED_MIDI)
    assert split.info["kind"] == "folder" and split.info["parsed"] == 1


def test_abc_file_gives_one_piece_per_tune(tmp_path):
    (tmp_path / "tunes.abc").write_text(ABC)
    pieces = {p.name: p.notes for p in all_pieces(load(tmp_path, tmp_path))}
    assert sorted(pieces) == ["tunes.abc#1", "tunes.abc#2"]
    # The tie F-|F is one note of two quarters; times in quarter notes.
    want1 = make_notes([(60, 0, 1), (62, 1, 2), (64, 2, 3), (65, 3, 5), (67, 5, 6), (69, 6, 8)])
    np.testing.assert_array_equal(pieces["tunes.abc#1"], want1)
    # The grace note is left out; the chord gives three notes.
    want2 = make_notes([(67, 0, 1), (71, 1, 2), (74, 2, 3), (67, 3, 6), (71, 3, 6), (74, 3, 6)])
    np.testing.assert_array_equal(pieces["tunes.abc#2"], want2)


def test_abc_repeats_and_voltas_are_played_out(tmp_path):
    tune = "X:1\nM:4/4\nL:1/4\nK:C\n|: C D E F |1 G4 :|2 A4 |]\n"
    (tmp_path / "rep.abc").write_text(tune)
    (piece,) = all_pieces(load(tmp_path, tmp_path))
    pitches = [60, 62, 64, 65, 67, 60, 62, 64, 65, 69]
    starts = [0, 1, 2, 3, 4, 8, 9, 10, 11, 12]
    ends = [s + 1 for s in starts[:4]] + [8] + [s + 1 for s in starts[5:9]] + [16]
    np.testing.assert_array_equal(piece.notes, make_notes(zip(pitches, starts, ends, strict=True)))


def test_musicxml_ties_merged_chords_split(tmp_path):
    from music21 import chord, meter, note, stream, tie

    part = stream.Part()
    part.append(meter.TimeSignature("2/4"))
    a, b = note.Note("C5", quarterLength=1.5), note.Note("C5", quarterLength=1.5)
    a.tie, b.tie = tie.Tie("start"), tie.Tie("stop")
    part.append([a, b, chord.Chord(["E4", "G4"], quarterLength=1)])
    part.makeMeasures(inPlace=True)
    part.makeTies(inPlace=True)
    score = stream.Score([part])
    score.write("musicxml", fp=tmp_path / "piece.xml")
    (piece,) = all_pieces(load(tmp_path, tmp_path))
    np.testing.assert_array_equal(piece.notes, make_notes([(72, 0, 3), (64, 3, 4), (67, 3, 4)]))


def test_corrupt_file_is_skipped_and_counted(tmp_path, caplog):
    write_two_tracks(tmp_path / "good.mid")
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (tmp_path / "notes.txt").write_text("not music, not read")
    with caplog.at_level(logging.WARNING, logger="livegen.data"):
        split = load(tmp_path, tmp_path)
    assert [p.name for p in all_pieces(split)] == ["good.mid"]
    assert split.info["found"] == 2 and split.info["parsed"] == 1 and split.info["skipped"] == 1
    assert split.info["skipped_files"][0][0] == "bad.mid"
    assert any("bad.mid" in r.getMessage() for r in caplog.records)


def test_all_files_broken_is_a_data_error(tmp_path):
    (tmp_path / "bad.mid").write_bytes(b"nope")
    with pytest.raises(DataError, match="none of the 1"):
        load(tmp_path, tmp_path)


def test_folder_split_parallel_equals_serial(tmp_path):
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    for i in range(10):
        write_two_tracks(music / ("sub" if i % 2 else ".") / f"m{i}.midi")
    serial = load(music, tmp_path, seed=3)
    parallel = load_pieces(music, cache_dir=tmp_path / "other", jobs=2, progress=False, seed=3)
    assert serial.info["split"] == "seeded 80/10/10"
    assert [len(serial.train), len(serial.valid), len(serial.test)] == [8, 1, 1]
    assert (serial.train, serial.valid, serial.test) == (
        parallel.train,
        parallel.valid,
        parallel.test,
    )
    assert "sub/m1.midi" in {p.name for p in all_pieces(serial)}
