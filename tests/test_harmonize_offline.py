"""Offline harmonization with a tiny random parts model saved and loaded for real: livegen's
part in its range, stepped exactly as live, every note ended with yours, bad requests one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from livegen import checkpoint
from livegen.generate import GenerateError
from livegen.harmonize_offline import harmonize
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import END, PITCH, START, make_notes, notes_to_ticks, ticks_to_notes
from livegen.parts_player import PartsPlayer
from livegen.sampling import Sampler
from tests.codecs.shapes import HARMONY
from tests.test_generate import save_tiny

# A melody of quarter notes, with a rest and a repeated note; the last ends at 7.5 quarters.
MELODY = make_notes(
    [(72, 0, 1), (74, 1, 2), (76, 2, 3), (76, 3, 4), (77, 4.5, 5.5), (74, 5.5, 6.5), (72, 6.5, 7.5)]
)


def save_tiny_parts(path: Path, seed: int = 0) -> Path:
    """A random-weight parts model of chorale_harmony's shape, through the real save/load."""
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=HARMONY.vocab_size, n_layer=1, n_hidden=24, n_embd=8)
    checkpoint.save(
        path,
        LSTMModel(cfg),
        HARMONY,
        data={"source": "tiny", "pieces": {"train": 1, "valid": 1, "test": 1}},
        config={},
        metrics={"val_nll": 3.5},
    )
    return path


@pytest.fixture(scope="module")
def tiny_parts(tmp_path_factory):
    return checkpoint.load(save_tiny_parts(tmp_path_factory.mktemp("ckpt") / "tiny_parts.pt"))


def test_livegen_plays_its_part_in_its_range_and_ends_every_note_with_yours(tiny_parts):
    done = harmonize(tiny_parts, MELODY, temperature=1.0, seed=1)
    np.testing.assert_array_equal(done.yours[:, :3], MELODY[:, :3])
    mine = done.mine
    assert len(mine) > 0, "a random model at temperature 1 plays something"
    part = HARMONY.my_part
    assert np.all((mine[:, PITCH] >= part.low) & (mine[:, PITCH] <= part.high))
    assert np.all(mine[:, END] > mine[:, START])
    assert mine[:, END].max() <= MELODY[:, END].max()  # nothing sounds past your last note
    # Never more than the part takes at once (alto, tenor, bass).
    for t in np.arange(0, 7.5, 0.25):
        assert np.sum((mine[:, START] <= t) & (mine[:, END] > t)) <= part.max_notes
    assert done.chords == 0


def test_it_is_exactly_what_the_parts_player_plays_live_and_a_seed_repeats_it(tiny_parts):
    done = harmonize(tiny_parts, MELODY, temperature=1.0, seed=7)
    again = harmonize(tiny_parts, MELODY, temperature=1.0, seed=7)
    np.testing.assert_array_equal(done.mine, again.mine)
    other = harmonize(tiny_parts, MELODY, temperature=1.0, seed=8)
    assert not np.array_equal(done.mine, other.mine)

    # By hand, as the engine steps it: your half of tick n, then my half of tick n.
    player = PartsPlayer(tiny_parts.model, HARMONY, Sampler(temperature=1.0, seed=7))
    ticks = notes_to_ticks(MELODY, HARMONY.ticks_per_quarter)
    with torch.no_grad():
        live = [player.step_parts(t, play=True, tick=n) for n, t in enumerate(ticks[:-1])]
    live.append(player.cancel())
    np.testing.assert_array_equal(done.mine, ticks_to_notes(live, HARMONY.ticks_per_quarter))


def test_temperature_zero_takes_the_likeliest_part_every_time(tiny_parts):
    a = harmonize(tiny_parts, MELODY, temperature=0.0, seed=1)
    b = harmonize(tiny_parts, MELODY, temperature=0.0, seed=2)
    np.testing.assert_array_equal(a.mine, b.mine)


def test_a_chord_into_a_melody_part_keeps_its_highest_note_and_is_counted(tiny_parts):
    chords = make_notes([(72, 0, 2), (67, 0, 2), (64, 0, 2), (74, 2, 4)])
    done = harmonize(tiny_parts, chords, temperature=1.0, seed=1)
    assert done.chords > 0
    assert done.yours[:, PITCH].tolist() == [72, 74]
    assert done.yours[:, [START, END]].tolist() == [[0, 2], [2, 4]]


def test_a_melody_out_of_your_range_is_folded_into_it(tiny_parts):
    low = make_notes([(48, 0, 1), (50, 1, 2)])  # an octave below the soprano's 60..81
    done = harmonize(tiny_parts, low, temperature=1.0, seed=1)
    assert done.yours[:, PITCH].tolist() == [60, 62]  # the nearest octave inside


def test_a_metric_model_hears_the_piece_where_first_tick_puts_it_in_the_bar(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=HARMONY.vocab_size, n_layer=1, n_hidden=24, n_embd=8, metric=True)
    path = tmp_path / "metric.pt"
    checkpoint.save(path, LSTMModel(cfg), HARMONY, data={}, config={}, metrics={})
    loaded = checkpoint.load(path)

    def mine(first_tick: int) -> np.ndarray:
        return harmonize(loaded, MELODY, temperature=1.0, seed=5, first_tick=first_tick).mine

    np.testing.assert_array_equal(mine(0), mine(16))  # a whole bar later: the same positions
    assert not np.array_equal(mine(0), mine(12))  # a quarter-note pickup: other positions


def test_a_single_stream_model_or_an_empty_part_is_one_line(tiny_parts, tmp_path):
    melody_model = checkpoint.load(save_tiny(tmp_path / "melody.pt"))
    with pytest.raises(GenerateError, match="needs a parts model"):
        harmonize(melody_model, MELODY)
    with pytest.raises(GenerateError, match="no notes"):
        harmonize(tiny_parts, make_notes([]))
    with pytest.raises(GenerateError, match="temperature"):
        harmonize(tiny_parts, MELODY, temperature=-1)
