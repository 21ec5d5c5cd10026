"""livegen.data.sources: bl2012 JSON, corpora, and sources that name nothing readable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from livegen.data import DataError, steps_to_notes
from livegen.errors import LivegenError
from livegen.notes import make_notes, notes_to_ticks
from tests.data.helpers import all_pieces, load


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


def test_missing_path_empty_folder_unknown_corpus(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load(tmp_path / "nowhere", tmp_path)
    # A recipe's bl2012 JSON that this machine lacks: say what it is and how to give it.
    with pytest.raises(DataError, match=r"piano_midi.json: no such file; .*bl2012 JSON.*--source="):
        load(tmp_path / "piano_midi.json", tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"no music files.*\.mid .*\.mxl"):
        load(tmp_path / "empty", tmp_path)
    with pytest.raises(DataError, match="unknown corpus 'chopin'.*essen-erk.*bach"):
        load("chopin", tmp_path)
    assert issubclass(DataError, ValueError) and issubclass(DataError, LivegenError)


def test_json_in_wrong_shape_is_a_data_error(tmp_path):
    (tmp_path / "x.json").write_text('{"pieces": []}')
    with pytest.raises(DataError, match="'train', 'valid', 'test'"):
        load(tmp_path / "x.json", tmp_path)


def test_corpus_bach_with_limit(tmp_path):
    split = load("bach", tmp_path, limit=3)
    pieces = all_pieces(split)
    assert len(pieces) == 3 and split.info["found"] == 3 and split.info["kind"] == "corpus"
    assert all(p.name.startswith("bach/bwv") for p in pieces)
    for p in pieces:
        assert p.notes.shape[1] == 4 and len(p.notes) > 50
        assert np.all(p.notes[:, 2] > p.notes[:, 1])
        assert p.notes[:, 0].min() >= 30 and p.notes[:, 0].max() <= 90
