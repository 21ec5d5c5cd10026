"""livegen.data.part_split: real chorales by voice, MIDI tracks and channels, the top split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livegen.data.part_split import ONE_TRACK, cut_item, cut_steps, top_split
from livegen.notes import make_notes, sort_notes
from tests.data.helpers import write_tracks


def _rows(notes: np.ndarray) -> list[tuple]:
    return sorted(map(tuple, notes.tolist()))


def test_top_split_keeps_the_melody_over_held_and_inner_notes():
    notes = make_notes(
        [
            (72, 0, 2),  # melody, held over the alto's second note
            (64, 0, 1),
            (65, 1, 2),  # struck under a held higher note: not the top
            (74, 2, 3),  # melody
            (67, 2, 3),
            (60, 3, 4),  # alone: the top at its onset
        ]
    )
    top, rest = top_split(notes)
    assert top[:, 0].tolist() == [72, 74, 60]
    assert sorted(rest[:, 0].tolist()) == [64, 65, 67]


note_rows = st.lists(
    st.tuples(
        st.integers(36, 90),  # pitch
        st.integers(0, 31),  # start, in 16ths
        st.integers(1, 8),  # length, in 16ths
        st.integers(1, 127),  # velocity
    ),
    max_size=40,
)


@given(note_rows)
def test_top_split_loses_and_doubles_no_note(rows):
    notes = make_notes([(p, s / 4, (s + n) / 4, v) for p, s, n, v in rows])
    top, rest = top_split(notes)
    assert _rows(np.concatenate([top, rest])) == _rows(notes)  # the whole, no more, no less
    # At most one top note starts at each onset, and every onset with notes has its top
    # unless a higher note is still sounding from before.
    assert len(np.unique(top[:, 1])) == len(top)
    for onset in np.unique(notes[:, 1]):
        struck = notes[notes[:, 1] == onset]
        held = notes[(notes[:, 1] < onset) & (notes[:, 2] > onset)]
        expect = len(held) == 0 or held[:, 0].max() <= struck[:, 0].max()
        assert (onset in top[:, 1]) == expect


def _corpus_path(work: str) -> str:
    from music21 import corpus

    return str(corpus.getWork(work))


@pytest.mark.parametrize(
    ("work", "labels", "beats", "pickup"),
    [
        ("bach/bwv66.6", ["Soprano", "Alto", "Tenor", "Bass"], 4, 3.0),
        ("bach/bwv269", ["Soprano", "Alto", "Tenor", "Bass"], 3, 2.0),
        ("bach/bwv1.6", ["Horn 2", "Soprano", "Alto", "Tenor", "Bass"], 4, 3.0),
    ],
)
def test_chorales_split_into_named_voices_on_the_bar(work, labels, beats, pickup):
    name, cut, err = cut_item(("voices", ("score", work, _corpus_path(work))))
    assert err is None, err
    parts, beats_per_bar = cut
    assert [label for label, _ in parts] == labels
    assert beats_per_bar == beats
    soprano = dict(parts)["Soprano"]
    # The pickup bar is short: its first note starts where the bar's missing beats end.
    assert soprano[0, 1] == pickup
    # Voices keep their ranges: the soprano sits above the bass throughout.
    assert soprano[:, 0].mean() > dict(parts)["Bass"][:, 0].mean() + 12


def test_top_split_of_a_chorale_is_close_to_its_soprano():
    path = _corpus_path("bach/bwv66.6")
    (_, (voices, _), _), (_, (top, _), _) = (
        cut_item((split, ("score", "bwv66.6", path))) for split in ("voices", "top")
    )
    labels = dict(top)
    assert set(labels) == {"top", "rest"}
    whole = sort_notes(np.concatenate([n for _, n in voices]))
    assert _rows(np.concatenate([labels["top"], labels["rest"]])) == _rows(whole)
    soprano = {(r[0], r[1]) for r in dict(voices)["Soprano"].tolist()}
    tops = {(r[0], r[1]) for r in labels["top"].tolist()}
    assert len(soprano & tops) / len(soprano) > 0.9


def test_midi_tracks_by_number_and_name_and_channels(tmp_path):
    path = tmp_path / "duet.mid"
    lead = [(0, 72, 0, 1), (0, 74, 1, 2)]
    bass = [(1, 40, 0, 2), (2, 43, 0, 2)]  # one track, two channels
    write_tracks(path, [lead, bass], names=["Lead", "Bass"], meter=3)
    _, (tracks, beats), err = cut_item(("tracks", ("midi", "duet.mid", str(path))))
    assert err is None and beats == 3
    assert [label for label, _ in tracks] == ["1 Lead", "2 Bass"]
    assert dict(tracks)["2 Bass"][:, 0].tolist() == [40, 43]
    _, (channels, _), err = cut_item(("channels", ("midi", "duet.mid", str(path))))
    assert err is None
    assert [label for label, _ in channels] == ["1", "2", "3"]
    assert dict(channels)["3"][:, 0].tolist() == [43]


def test_one_track_and_wrong_kind_are_reasons_not_errors(tmp_path):
    path = tmp_path / "solo.mid"
    write_tracks(path, [[(0, 60, 0, 1), (1, 48, 0, 1)]])
    _, cut, err = cut_item(("tracks", ("midi", "solo.mid", str(path))))
    assert cut is None and err.startswith(ONE_TRACK) and "channels or top" in err
    _, cut, err = cut_item(("channels", ("midi", "solo.mid", str(path))))
    assert cut is not None and err is None  # the same file splits by channel
    _, cut, err = cut_item(("voices", ("midi", "solo.mid", str(path))))
    assert cut is None and "split tracks" in err
    _, cut, err = cut_item(("tracks", ("midi", "bad.mid", str(tmp_path / "missing.mid"))))
    assert cut is None and err


def test_json_steps_by_voice_column_and_top():
    steps = [[72, 67, 64, 48], [72, 67, 64, 48], [74, 67, -1, 47], [76, 69, 60, 45]]
    parts, beats = cut_steps("voices", steps, 0.25)
    assert [label for label, _ in parts] == ["soprano", "alto", "tenor", "bass"] and beats == 4
    assert dict(parts)["soprano"].tolist() == [
        [72, 0, 0.5, 80],
        [74, 0.5, 0.75, 80],
        [76, 0.75, 1.0, 80],
    ]
    assert dict(parts)["tenor"][:, 0].tolist() == [64, 60]  # the rest (-1) is silence
    top, _ = cut_steps("top", steps, 0.25)
    assert dict(top)["top"][:, 0].tolist() == [72, 74, 76]
    with pytest.raises(ValueError, match="same number of voices"):
        cut_steps("voices", [[72, 60], [72]], 0.25)
    with pytest.raises(ValueError, match="no tracks"):
        cut_steps("tracks", steps, 0.25)
