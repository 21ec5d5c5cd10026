"""``livegen recover``, ``--record``'s checks, and ``livegen generate`` continuing a recording."""

from __future__ import annotations

import mido
import numpy as np

from livegen import journal
from livegen.midifile import read_midi
from tests.test_cli import expect_error, run, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


def a_cut_journal(target) -> None:
    text = journal.header(target, 120.0, 4, 0.0)
    text += journal.line(0.0, "y", [0x90, 60, 80]) + journal.line(0.5, "y", [0x80, 60, 0])
    text += journal.line(0.5, "l", [0x91, 64, 90]) + journal.line(1.0, "l", [0x81, 64, 0])
    text += '[1.2,"l",[145'  # killed mid-line
    journal.journal_path(target).write_text(text)


def test_recover_makes_the_file_and_says_what_it_skipped(tmp_path, capsys):
    target = tmp_path / "take.mid"
    a_cut_journal(target)
    assert run(["recover", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"recovered 4 events into {target}; 1 cut line(s) skipped" in out
    assert [t.name for t in mido.MidiFile(target).tracks] == ["conductor", "you", "livegen"]
    assert not journal.journal_path(target).exists()


def test_recover_without_a_journal_is_one_line(tmp_path, capsys):
    expect_error(["recover", str(tmp_path / "take.mid")], capsys, "no journal to recover")


def test_record_to_a_file_that_is_not_midi_is_one_line(capsys):
    expect_error(["run", "--record", "take.wav"], capsys, "record", ".mid")


def test_generate_continues_a_recording_from_both_parts(tiny_ckpt, tmp_path, capsys):  # noqa: F811
    """The primer is both tracks merged, as the model heard them live (yours and its own)."""
    take = tmp_path / "take.mid"
    a_cut_journal(take)
    journal.recover(take)
    primer = read_midi(take).notes
    assert sorted(primer[:, 0].astype(int)) == [60, 64]
    out = tmp_path / "more.mid"
    argv = ["generate", "--checkpoint", str(tiny_ckpt), "--primer", str(take), "--bars", "1"]
    assert run([*argv, "--seed", "1", "-o", str(out)]) == 0
    written = read_midi(out).notes
    assert np.isin([60, 64], written[:, 0]).all()  # the primer track holds the recording
