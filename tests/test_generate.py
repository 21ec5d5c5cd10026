"""Offline continuation with a tiny saved checkpoint: notes after the primer, written to MIDI,
piano-roll PNG, and errors for bad requests (MIDI file errors: tests/test_midifile.py)."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest
import torch

from livegen import checkpoint
from livegen.codecs import make_codec
from livegen.generate import GenerateError, continue_piece
from livegen.midifile import read_midi, write_midi
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import END, PITCH, START
from livegen.plot import plot_pianoroll
from tests.test_midifile import assert_every_on_has_an_off

PRIMERS = Path(__file__).resolve().parent.parent / "configs" / "primers"


def save_tiny(path: Path, codec_name: str = "melody", seed: int = 0) -> Path:
    """A random-weight checkpoint written and checked by the real save/load."""
    codec = make_codec(codec_name)
    torch.manual_seed(seed)
    cfg = ModelConfig(
        vocab_size=codec.vocab_size,
        n_layer=1,
        n_hidden=24,
        n_embd=8,
        frame_input=codec.head == "sigmoid",
    )
    model = LSTMModel(cfg)
    checkpoint.save(
        path,
        model,
        codec,
        data={"source": "tiny", "pieces": {"train": 1, "valid": 1, "test": 1}},
        config={},
        metrics={"val_nll": 3.5, "val_acc": 0.25, "train_seconds": 1.0},
    )
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return checkpoint.load(save_tiny(tmp_path_factory.mktemp("ckpt") / "tiny.pt"))


def primer() -> np.ndarray:
    return read_midi(PRIMERS / "folk.mid").notes


def test_continuation_follows_the_primer(tiny):
    grid, cont = continue_piece(tiny, primer(), bars=2, temperature=1.0, seed=1)
    assert len(grid) == len(primer())
    assert len(cont) > 0
    primer_end = grid[:, END].max()
    assert cont[:, START].min() >= primer_end
    assert cont[:, END].max() <= primer_end + 2 * 4 + 1e-9
    assert np.all((cont[:, PITCH] >= tiny.codec.low) & (cont[:, PITCH] <= tiny.codec.high))


def test_same_seed_same_continuation(tiny):
    a = continue_piece(tiny, primer(), bars=2, seed=4)[1]
    b = continue_piece(tiny, primer(), bars=2, seed=4)[1]
    np.testing.assert_array_equal(a, b)


def test_midi_round_trip(tiny, tmp_path):
    grid, cont = continue_piece(tiny, primer(), bars=2, temperature=1.0, seed=2)
    out = tmp_path / "out.mid"
    write_midi(out, grid, cont, bpm=96.0)
    back = read_midi(out)
    assert len(back.notes) == len(grid) + len(cont)
    assert back.bpm == pytest.approx(96.0)
    midi = mido.MidiFile(out)
    assert len(cont) > 0
    channels = [{m.channel for m in t if m.type == "note_on"} for t in midi.tracks]
    assert channels == [{0}, {1}]  # primer on channel 1, continuation on channel 2
    assert_every_on_has_an_off(out)


@pytest.mark.parametrize("name", ["melody", "poly", "performance", "pianoroll"])
def test_every_codec_continues_and_writes(tmp_path, name):
    loaded = checkpoint.load(save_tiny(tmp_path / f"{name}.pt", name))
    chorale = read_midi(PRIMERS / "chorale.mid").notes
    grid, cont = continue_piece(loaded, chorale, bars=1, temperature=1.0, seed=0)
    assert len(cont) and cont[:, START].min() >= grid[:, END].max()
    out = tmp_path / f"{name}.mid"
    write_midi(out, grid, cont)
    assert len(read_midi(out).notes) == len(grid) + len(cont)
    assert_every_on_has_an_off(out)


def test_plot_writes_a_png(tiny, tmp_path):
    grid, cont = continue_piece(tiny, primer(), bars=1, temperature=1.0, seed=3)
    out = plot_pianoroll(grid, cont, tmp_path / "roll.png", title="tiny")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5000


def test_plot_with_nothing_continued(tmp_path):
    out = plot_pianoroll(primer(), np.zeros((0, 4)), tmp_path / "empty.png")
    assert out.stat().st_size > 0


def test_empty_primer_is_refused(tiny):
    with pytest.raises(GenerateError, match="no notes"):
        continue_piece(tiny, np.zeros((0, 4)))


@pytest.mark.parametrize("kwargs", [{"bars": 0}, {"temperature": -1.0}, {"top_p": 0.0}])
def test_bad_settings_are_refused(tiny, kwargs):
    with pytest.raises(GenerateError):
        continue_piece(tiny, primer(), **kwargs)
