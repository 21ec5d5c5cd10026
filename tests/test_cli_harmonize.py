"""``livegen generate --harmonize``, run in-process: two tracks, your part and livegen's, every
note ended; a wrong model or a clash of flags is one line."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from livegen.midifile import write_midi
from livegen.notes import make_notes
from tests.test_cli import expect_error, run
from tests.test_generate import save_tiny
from tests.test_harmonize_offline import MELODY, save_tiny_parts
from tests.test_midifile import assert_every_on_has_an_off


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("harmonize")
    melody = folder / "melody.mid"
    write_midi(melody, MELODY, make_notes([]), bpm=90)
    return save_tiny_parts(folder / "tiny_parts.pt"), melody


def test_generate_harmonize_writes_your_part_and_livegens_on_two_tracks(files, tmp_path, capsys):
    model, melody = files
    out = tmp_path / "harmonized.mid"
    argv = ["generate", "--harmonize", str(melody), "--model", str(model), "--seed", "2"]
    assert run([*argv, "--temperature", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "harmonized melody.mid" in printed and "seed 2" in printed
    midi = mido.MidiFile(out)
    assert [t.name for t in midi.tracks] == ["you: soprano", "livegen: alto+tenor+bass"]
    ons = [[m for m in t if m.type == "note_on" and m.velocity > 0] for t in midi.tracks]
    assert [m.note for m in ons[0]] == MELODY[:, 0].astype(int).tolist()
    assert ons[1] and {m.channel for m in ons[1]} == {1}
    assert_every_on_has_an_off(out)
    again = tmp_path / "again.mid"
    assert run([*argv, "--temperature", "1", "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # the same seed, the same file


def test_harmonize_with_a_single_stream_model_says_which_models_can(files, tmp_path, capsys):
    _, melody = files
    single = save_tiny(tmp_path / "melody_model.pt")
    argv = ["generate", "--harmonize", str(melody), "--checkpoint", str(single)]
    expect_error([*argv, "-o", str(tmp_path / "x.mid")], capsys, "needs a parts model")


def test_harmonize_and_primer_together_or_no_output_are_one_line(files, tmp_path, capsys):
    model, melody = files
    argv = ["generate", "--harmonize", str(melody), "--model", str(model)]
    both = [*argv, "--primer", str(melody), "-o", str(tmp_path / "x.mid")]
    expect_error(both, capsys, "--primer continues")
    expect_error(argv, capsys, "-o OUT.mid")
    empty = tmp_path / "empty.mid"
    write_midi(empty, make_notes([]), make_notes([]))
    expect_error(["generate", "--harmonize", str(empty), "--model", str(model), "-o",
                  str(tmp_path / "y.mid")], capsys, "no notes to harmonize")  # fmt: skip


def test_chords_into_a_melody_part_are_said_once(files, tmp_path, capsys):
    model, _ = files
    chords = tmp_path / "chords.mid"
    write_midi(chords, make_notes([(72, 0, 2), (67, 0, 2), (64, 0, 2), (74, 2, 4)]), make_notes([]))
    argv = ["generate", "--harmonize", str(chords), "--model", str(model), "--seed", "1"]
    assert run([*argv, "-o", str(tmp_path / "out.mid")]) == 0
    printed = capsys.readouterr().out
    assert printed.count("takes one note at a time") == 1 and "highest were kept" in printed


def test_no_guards_lets_the_model_stray_and_every_note_still_ends(files, tmp_path, capsys):
    """The tiny random model, guarded (the default), keeps its bass to the bass range; with
    --no-guards the same seed strays below it (this model and seed do)."""
    model, melody = files
    lowest = {}
    for flag in ("--guards", "--no-guards"):
        out = tmp_path / f"{flag}.mid"
        argv = ["generate", "--harmonize", str(melody), "--model", str(model), "--seed", "3"]
        assert run([*argv, flag, "--temperature", "1", "-o", str(out)]) == 0
        assert f"guards {'off' if flag == '--no-guards' else 'on'}" in capsys.readouterr().out
        assert_every_on_has_an_off(out)
        track = mido.MidiFile(out).tracks[1]
        lowest[flag] = min(m.note for m in track if m.type == "note_on" and m.velocity > 0)
    assert lowest["--guards"] >= 40 > lowest["--no-guards"]
