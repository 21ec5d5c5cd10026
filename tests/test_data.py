"""Tests for livegen.data: every source kind on tiny files written here, errors, cache, split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mido
import numpy as np
import pytest

from livegen.data import (
    DataError,
    Piece,
    augment_shifts,
    default_cache_dir,
    load_pieces,
    midi_notes,
    seeded_split,
    steps_to_notes,
    transpose,
)
from livegen.notes import make_notes, notes_to_ticks


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # Never read or write the user's real cache from a test.
    monkeypatch.setenv("LIVEGEN_CACHE", str(tmp_path / "default-cache"))


def load(source, tmp_path: Path, **kw):
    kw.setdefault("jobs", 1)
    return load_pieces(source, cache_dir=tmp_path / "cache", progress=False, **kw)


def all_pieces(split) -> list[Piece]:
    return split.train + split.valid + split.test


def write_midi(path: Path, tpb: int = 480) -> None:
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


def test_midi_tracks_merge_drums_skipped_velocity_zero_is_off(tmp_path):
    write_midi(tmp_path / "song.mid")
    np.testing.assert_array_equal(midi_notes(tmp_path / "song.mid"), EXPECTED_MIDI)
    split = load(tmp_path, tmp_path)
    (piece,) = all_pieces(split)
    assert piece.name == "song.mid"
    np.testing.assert_array_equal(piece.notes, EXPECTED_MIDI)
    assert split.info["kind"] == "folder" and split.info["parsed"] == 1


def test_midi_times_do_not_depend_on_resolution(tmp_path):
    write_midi(tmp_path / "a.mid", tpb=96)
    np.testing.assert_array_equal(midi_notes(tmp_path / "a.mid"), EXPECTED_MIDI)


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


def write_bl2012(path: Path) -> dict:
    data = {
        "train": [[[60, 64], [60, 64], [60, 67], []], [[62], [62]]],
        "valid": [[[48], [], [48]]],
        "test": [[[72, 76], [76]]],
    }
    path.write_text(json.dumps(data))
    return data


def frames(notes: np.ndarray, n_steps: int) -> list[set[int]]:
    """Sounding pitches per tick at one tick per quarter, the way the pianoroll codec sees it."""
    out: list[set[int]] = [set() for _ in range(n_steps)]
    sounding: set[int] = set()
    for i, tick in enumerate(notes_to_ticks(notes, 1)[:n_steps]):
        sounding -= set(tick.offs)
        sounding |= {p for p, _ in tick.ons}
        out[i] = set(sounding)
    return out


def test_bl2012_json_keeps_split_and_merges_held_notes(tmp_path):
    data = write_bl2012(tmp_path / "set.json")
    split = load(tmp_path / "set.json", tmp_path)
    assert split.info["split"] == "given"
    assert [len(split.train), len(split.valid), len(split.test)] == [2, 1, 1]
    first = split.train[0].notes
    # 60 is held over three steps: one note, not three.
    np.testing.assert_array_equal(first, make_notes([(60, 0, 3), (64, 0, 2), (67, 2, 3)]))
    given = (data["train"], data["valid"], data["test"])
    for pieces, steps in zip((split.train, split.valid, split.test), given, strict=True):
        for piece, want in zip(pieces, steps, strict=True):
            assert frames(piece.notes, len(want)) == [set(s) for s in want]


def test_sixteenth_voices_json_uses_quarter_quarter_steps_and_ignores_rests(tmp_path):
    voices = {"train": [[[67, 64, 60, 48], [67, 64, 60, 48], [-1, 65, 60, 48]]], "valid": []}
    (tmp_path / "x_16th_voices.json").write_text(json.dumps(voices))
    split = load(tmp_path / "x_16th_voices.json", tmp_path)
    want = make_notes([(67, 0, 0.5), (64, 0, 0.5), (60, 0, 0.75), (48, 0, 0.75), (65, 0.5, 0.75)])
    np.testing.assert_array_equal(split.train[0].notes, want)
    assert split.info["step_quarters"] == 0.25


def test_steps_to_notes_step_length():
    notes = steps_to_notes([[60], [60], [62]], step_quarters=0.5)
    np.testing.assert_array_equal(notes, make_notes([(60, 0, 1), (62, 1, 1.5)]))


def test_corrupt_file_is_skipped_and_counted(tmp_path, caplog):
    write_midi(tmp_path / "good.mid")
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


def test_missing_path_empty_folder_unknown_corpus(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load(tmp_path / "nowhere", tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"no music files.*\.mid .*\.mxl"):
        load(tmp_path / "empty", tmp_path)
    with pytest.raises(DataError, match="unknown corpus 'chopin'.*essen-erk.*bach"):
        load("chopin", tmp_path)
    assert issubclass(DataError, ValueError)


def test_json_in_wrong_shape_is_a_data_error(tmp_path):
    (tmp_path / "x.json").write_text('{"pieces": []}')
    with pytest.raises(DataError, match="'train', 'valid', 'test'"):
        load(tmp_path / "x.json", tmp_path)


def test_cache_round_trip_and_corrupt_cache_rebuilt(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    write_midi(music / "a.mid")
    (music / "tunes.abc").write_text(ABC)
    first = load(music, tmp_path)
    assert not first.info["cache_hit"]
    second = load(music, tmp_path)
    assert second.info["cache_hit"]
    assert all_pieces(first) == all_pieces(second)
    assert second.info["parsed"] == first.info["parsed"] == 3

    Path(second.info["cache_file"]).write_bytes(b"PK\x03\x04 broken")
    with pytest.warns(UserWarning, match="corrupt cache"):
        third = load(music, tmp_path)
    assert not third.info["cache_hit"] and all_pieces(third) == all_pieces(first)
    assert load(music, tmp_path).info["cache_hit"]

    # A changed file is a different source: no stale hit.
    write_midi(music / "a.mid", tpb=96)
    assert not load(music, tmp_path).info["cache_hit"]


def test_pieces_are_read_only_and_transpose_copies(tmp_path):
    write_midi(tmp_path / "a.mid")
    (piece,) = all_pieces(load(tmp_path, tmp_path))
    with pytest.raises(ValueError):
        piece.notes[0, 0] = 1
    up = transpose(piece.notes, 3)
    np.testing.assert_array_equal(up[:, 0], piece.notes[:, 0] + 3)
    np.testing.assert_array_equal(up[:, 1:], piece.notes[:, 1:])
    assert augment_shifts(2) == [-2, -1, 0, 1, 2] and augment_shifts(0) == [0]
    with pytest.raises(ValueError):
        augment_shifts(-1)


def test_seeded_split_is_80_10_10_and_deterministic():
    pieces = [Piece(f"p{i:03d}", make_notes([(60, 0, 1)])) for i in range(100)]
    a = seeded_split(pieces, seed=0)
    assert [len(x) for x in a] == [80, 10, 10]
    assert seeded_split(list(reversed(pieces)), seed=0) == a  # order of discovery is irrelevant
    assert seeded_split(pieces, seed=1) != a
    names = [p.name for part in a for p in part]
    assert sorted(names) == [p.name for p in pieces]  # a partition
    assert [len(x) for x in seeded_split(pieces[:3])] == [1, 1, 1]


def test_folder_split_parallel_equals_serial(tmp_path):
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    for i in range(10):
        write_midi(music / ("sub" if i % 2 else ".") / f"m{i}.midi")
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


def test_corpus_bach_with_limit(tmp_path):
    split = load("bach", tmp_path, limit=3)
    pieces = all_pieces(split)
    assert len(pieces) == 3 and split.info["found"] == 3 and split.info["kind"] == "corpus"
    assert all(p.name.startswith("bach/bwv") for p in pieces)
    for p in pieces:
        assert p.notes.shape[1] == 4 and len(p.notes) > 50
        assert np.all(p.notes[:, 2] > p.notes[:, 1])
        assert p.notes[:, 0].min() >= 30 and p.notes[:, 0].max() <= 90


def test_default_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGEN_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LIVEGEN_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "livegen" / "pieces"
