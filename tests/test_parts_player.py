"""The PartsPlayer with a tiny random-weight model: my part of each tick obeys its grammar,
comes after your part of the same tick, and the state carries exactly both parts' tokens."""

from __future__ import annotations

import pytest
import torch

from livegen.codecs import PartsTick, make_codec
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import EMPTY_TICK, Tick, ticks_to_notes
from livegen.parts_player import PartsPlayer
from livegen.sampling import Sampler
from tests.codecs.shapes import HARMONY

CODEC = HARMONY
MELODY = [72, 74, 76, 77, 79, 77, 76, 74]  # a quarter note each, at 4 ticks per quarter


def tiny_model(seed: int = 0) -> LSTMModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=CODEC.vocab_size, n_layer=2, n_hidden=24, n_embd=8)
    return LSTMModel(cfg).eval()


def make_player(seed: int = 1, temperature: float = 1.0) -> PartsPlayer:
    return PartsPlayer(tiny_model(), CODEC, Sampler(temperature=temperature, seed=seed))


def melody_ticks(n_ticks: int) -> list[Tick]:
    """Your part: the melody struck every 4 ticks, each note released as the next is struck."""
    ticks = []
    for n in range(n_ticks):
        if n % 4:
            ticks.append(EMPTY_TICK)
            continue
        p, last = MELODY[n // 4 % len(MELODY)], MELODY[(n // 4 - 1) % len(MELODY)]
        ticks.append(Tick(offs=(last,) if n else (), ons=((p, 90),)))
    return ticks


def play(player: PartsPlayer, yours: list[Tick], playing=lambda n: True) -> list[Tick]:
    with torch.no_grad():
        return [player.step_parts(tick, play=playing(n)) for n, tick in enumerate(yours)]


@pytest.mark.parametrize("seed", range(3))
def test_my_part_obeys_its_grammar_and_every_note_ends(seed):
    player = make_player(seed=seed)
    part = CODEC.my_part
    sounding: set[int] = set()
    n_ons = 0
    answers = play(player, melody_ticks(96))
    for tick in answers:
        struck = [p for p, _ in tick.ons]
        assert len(struck) == len(set(struck)) <= CODEC.MAX_ONS, "a pitch struck twice"
        assert set(tick.offs) <= sounding, "an off for a note livegen is not playing"
        assert all(part.low <= p <= part.high for p in struck)
        sounding = (sounding - set(tick.offs)) | set(struck)
        assert len(sounding) <= part.max_notes
        n_ons += len(struck)
    assert n_ons, "a random model at temperature 1 should play something"
    assert sounding == player.sounding == player.stream.hears_parts()[1]
    # Every on becomes one note, and cancel ends whatever still sounds.
    assert len(ticks_to_notes(answers, CODEC.ticks_per_quarter)) == n_ons
    assert set(player.cancel().offs) == sounding and not player.sounding


def test_the_state_carries_your_part_then_mine_of_every_tick():
    """Stepping live equals the forward pass over the batch tokens of both parts as played."""
    player = make_player(seed=4)
    yours = melody_ticks(40)
    answers = play(player, yours, playing=lambda n: n % 10 < 7)  # some ticks teacher forced
    stream = CODEC.stream()
    tokens = [
        t for y, m in zip(yours, answers, strict=True) for t in stream.listen(PartsTick(y, m))
    ]
    assert tokens.count(CODEC.step) == len(yours)
    with torch.no_grad():
        logits, state = player.model(torch.tensor([tokens]))  # (1, T, V)
    assert torch.allclose(player.logits, logits[0, -1], atol=1e-4)
    for live, batch in zip(player.state, state, strict=True):
        assert torch.allclose(live, batch, atol=1e-4)


def test_not_playing_holds_my_notes_and_cancel_releases_them_in_the_state():
    player = make_player(seed=2)
    yours = melody_ticks(64)
    for tick in yours:  # play until livegen sounds something
        player.step_parts(tick, play=True)
        if player.sounding:
            break
    held = set(player.sounding)
    assert held, "the tiny model never struck a note"
    with torch.no_grad():
        assert player.step_parts(EMPTY_TICK, play=False) == EMPTY_TICK
        assert player.stream.hears_parts()[1] == held  # teacher forced: my notes go on
        offs = player.cancel()
        assert set(offs.offs) == held and not player.sounding
        assert player.step_parts(EMPTY_TICK, play=True).offs == ()  # not sent twice
    # The state heard the release: nothing the cancel ended is held by the model.
    assert not held & (player.stream.hears_parts()[1] - player.sounding)


def test_your_chord_into_a_melody_part_keeps_the_highest_and_is_counted():
    player = make_player()
    with torch.no_grad():
        player.step_parts(Tick(ons=((64, 90), (67, 90), (72, 90))), play=True)
    assert player.stream.hears_parts()[0] == {72}
    assert player.stream.chords == 1


def test_same_seed_same_part_and_the_key_lock_holds():
    first = play(make_player(seed=7), melody_ticks(48))
    assert first == play(make_player(seed=7), melody_ticks(48))
    locked = make_player(seed=7)
    c_major = [p for p in range(128) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
    locked.set_key_mask(c_major)
    struck = {p for tick in play(locked, melody_ticks(96)) for p, _ in tick.ons}
    assert struck and struck <= set(c_major)


def test_a_single_stream_codec_is_refused():
    codec = make_codec("poly")
    torch.manual_seed(0)
    model = LSTMModel(ModelConfig(vocab_size=codec.vocab_size, n_hidden=8, n_embd=4))
    with pytest.raises(TypeError, match="parts codec"):
        PartsPlayer(model, codec, Sampler())


def test_both_halves_of_a_tick_go_in_at_its_bar_position():
    """A metric parts model: yours and mine of tick n at n's position, jumps followed."""
    from livegen.metric import MAX_BEATS, position
    from tests.test_player import PositionStepper

    torch.manual_seed(0)
    cfg = ModelConfig(CODEC.vocab_size, n_hidden=24, n_embd=8, metric=True, metric_tpq=4)
    player = PartsPlayer(LSTMModel(cfg).eval(), CODEC, Sampler(seed=1), beats_per_bar=3)
    player.stepper = PositionStepper(player.stepper)
    with torch.no_grad():
        for n, tick in enumerate(melody_ticks(14)):
            player.stepper.positions.clear()
            player.step_parts(tick, play=n % 2 == 0)
            assert set(player.stepper.positions) == {position(n, 4, 3, MAX_BEATS)}
        player.stepper.positions.clear()
        player.step_parts(EMPTY_TICK, play=True, tick=101)
    assert set(player.stepper.positions) == {101 % 12} and player.ticks == 102
