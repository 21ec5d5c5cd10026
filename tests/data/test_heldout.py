"""livegen.data.heldout: melodies compared with repeats collapsed, exact or transposed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livegen.data import DataError
from livegen.data.heldout import collapsed, melody_of, read_heldout
from livegen.notes import make_notes

VOICES = Path(__file__).resolve().parents[3] / "shared" / "data" / "jsb_chorales_16th_voices.json"


def test_collapsed_drops_rests_and_repeats():
    assert collapsed([60, 60, -1, 60, 62, 62, 60]) == (60, 62, 60)
    assert collapsed([]) == ()


def test_melody_of_takes_the_highest_where_two_start():
    notes = make_notes([(60, 0, 1), (67, 0, 1), (67, 1, 2), (69, 2, 3), (64, 2, 3)])
    assert melody_of(notes) == (67, 69)


def _heldout(tmp_path, data) -> Path:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(data))
    return path


def test_match_exact_transposed_or_none(tmp_path):
    tune = [[72, 60], [72, 60], [74, 60], [76, 59], [72, 57]]
    h = read_heldout(_heldout(tmp_path, {"train": [], "valid": [tune], "test": [[[60]]]}))
    assert h.match((72, 74, 76, 72)) == "exact"
    assert h.match((65, 67, 69, 65)) == "transposed"
    assert h.match((72, 74, 76)) is None  # a prefix is another melody
    assert h.match((72, 74, 75, 72)) is None
    assert h.match((60,)) is None  # one note would match any one-note piece


def test_train_pieces_are_not_held_out(tmp_path):
    tune = [[72], [74], [76]]
    h = read_heldout(_heldout(tmp_path, {"train": [tune], "valid": [], "test": []}))
    assert h.match((72, 74, 76)) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not a readable JSON file"),
        ('{"train": []}', "expected lists 'valid' and 'test'"),
        ('{"valid": [[1, 2]], "test": []}', "valid piece 0 is not a list of voice steps"),
    ],
)
def test_a_bad_heldout_file_is_one_clear_error(tmp_path, text, problem):
    path = tmp_path / "h.json"
    path.write_text(text)
    with pytest.raises(DataError, match=problem) as e:
        read_heldout(path)
    assert "\n" not in str(e.value) and "exclude_heldout" in str(e.value)
    with pytest.raises(DataError, match="not a readable JSON file"):
        read_heldout(tmp_path / "missing.json")


@pytest.mark.skipif(not VOICES.exists(), reason=f"{VOICES} absent (benchmark data, not in CI)")
def test_the_real_bl2012_file_holds_out_its_own_test_melodies():
    h = read_heldout(VOICES)
    data = json.loads(VOICES.read_text())
    assert len(h.exact) > 100  # 153 pieces, some melodies harmonized twice
    for piece in data["test"][:20]:
        assert h.match(collapsed(step[0] for step in piece)) == "exact"
    # Voice 0 is the soprano: it lies above the others on nearly every step.
    steps = [s for p in data["test"] for s in p if min(s) >= 0]
    assert sum(s[0] == max(s) for s in steps) / len(steps) > 0.95


@pytest.mark.skipif(not VOICES.exists(), reason=f"{VOICES} absent (benchmark data, not in CI)")
@pytest.mark.parametrize(
    ("work", "expected"),
    [("bach/bwv2.6", "exact"), ("bach/bwv89.6", "transposed"), ("bach/bwv1.6", None)],
)
def test_real_chorales_against_the_real_bl2012_file(work, expected):
    from music21 import corpus

    from livegen.data.part_split import cut_item
    from livegen.data.parts import melody_part

    _, (parts, _), err = cut_item(("voices", ("score", work, str(corpus.getWork(work)))))
    assert err is None
    assert read_heldout(VOICES).match(melody_of(melody_part(parts, "voices"))) == expected
