"""The Player with tiny random-weight models, one per codec: seeds, grammar, plan adoption,
teacher forcing of the musician's notes, cancel."""

from __future__ import annotations

import pytest
import torch

from livegen.codecs import CODECS, make_codec
from livegen.metric import MAX_BEATS, position
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import EMPTY_TICK, Tick, make_notes, ticks_to_notes
from livegen.player import Player
from livegen.sampling import Sampler

CODEC_NAMES = sorted(CODECS)

# Two bars: a melody over held chords, so that every codec has something to listen to.
PIECE = make_notes(
    [(72, 0, 1), (74, 1, 1.5), (76, 1.5, 2), (79, 2, 3), (76, 3, 4)]
    + [(67, 4, 4.5), (69, 4.5, 5), (71, 5, 6), (72, 6, 8, 100)]
    + [(p, 0, 4, 60) for p in (48, 55, 64)]
    + [(p, 4, 8, 60) for p in (43, 55, 62)]
)


def tiny_model(codec, seed: int = 0) -> LSTMModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(
        vocab_size=codec.vocab_size,
        n_layer=2,
        n_hidden=24,
        n_embd=8,
        frame_input=codec.head == "sigmoid",
    )
    return LSTMModel(cfg).eval()


def make_player(name: str, *, seed: int | None = 1, temperature: float = 1.0) -> Player:
    codec = make_codec(name)
    return Player(tiny_model(codec), codec, Sampler(temperature=temperature, seed=seed))


def listen_then_play(player: Player, n_play: int) -> list[Tick]:
    """The piece with play=False, its last tick with play=True, then silence with play=True."""
    ticks = player.codec.ticks(PIECE)
    answers = []
    with torch.no_grad():
        for tick in ticks[:-1]:
            assert player.step(tick, play=False) == EMPTY_TICK
        answers.append(player.step(ticks[-1], play=True))
        for _ in range(n_play - 1):
            answers.append(player.step(EMPTY_TICK, play=True))
    return answers


def n_play(name: str) -> int:
    return 2 * 4 * make_codec(name).ticks_per_quarter  # two bars


class CountingStepper:
    """The Player's stepper, counting model steps."""

    def __init__(self, stepper) -> None:
        self.inner = stepper
        self.calls = 0

    def __call__(self, x, state, pos=0):
        self.calls += 1
        return self.inner(x, state, pos)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def tensors(state) -> list[torch.Tensor]:
    return [t.clone() for t in state]


def same_state(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_same_seed_same_answers(name):
    first = listen_then_play(make_player(name, seed=7), n_play(name))
    again = listen_then_play(make_player(name, seed=7), n_play(name))
    assert first == again
    assert any(first), "a random model at temperature 1 should play something"


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_temperature_zero_ignores_the_seed(name):
    a = listen_then_play(make_player(name, seed=1, temperature=0.0), n_play(name))
    b = listen_then_play(make_player(name, seed=2, temperature=0.0), n_play(name))
    assert a == b


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_answers_obey_the_grammar(name):
    player = make_player(name, seed=3)
    codec = player.codec
    answers = listen_then_play(player, n_play(name))
    sounding: set[int] = set()
    n_ons = 0
    for tick in answers:
        assert set(tick.offs) <= sounding, "an off for a note the Player is not playing"
        for pitch, velocity in tick.ons:
            assert codec.low <= pitch <= codec.high
            assert 1 <= velocity <= 127
        sounding.difference_update(tick.offs)
        sounding.update(p for p, _ in tick.ons)
        n_ons += len(tick.ons)
    assert sounding == player.sounding
    # Every on becomes one note; cancel() ends whatever still sounds.
    assert len(ticks_to_notes(answers, codec.ticks_per_quarter)) == n_ons
    assert set(player.cancel().offs) == sounding


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_an_adopted_plan_is_not_stepped_twice(name):
    player = make_player(name, seed=5)
    listen_then_play(player, 2)
    counter = CountingStepper(player.stepper)
    player.stepper = counter
    for _ in range(n_play(name)):
        plan = player.plan
        assert plan is not None
        counter.calls = 0
        player.step(EMPTY_TICK, play=True)
        # The fork already heard the plan: the only steps are the next plan's tokens.
        assert counter.calls == len(player.plan.tokens), f"plan {plan} was stepped again"


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_the_musician_playing_during_a_plan_is_fed(name):
    player = make_player(name, seed=11)
    listen_then_play(player, 4)
    codec = player.codec
    plan = player.plan
    assert plan is not None
    # The highest key that changes what the stream hears (melody's skyline keeps the top).
    for pitch in range(codec.high, codec.low - 1, -1):
        heard = Tick(ons=((pitch, 90),))
        expected = player.stream.copy().listen(heard.merge(plan.tick))
        if tuple(expected) != plan.tokens:
            break
    else:
        pytest.fail("no key changes the planned tick")
    before, fork = tensors(player.state), tensors(player.fork)
    counter = CountingStepper(player.stepper)
    player.stepper = counter
    player.step(heard, play=False)
    assert counter.calls == len(expected)  # the merged tick, on the real state
    assert player.plan is None
    assert not same_state(player.state, fork), "the planning fork was adopted"
    assert not same_state(player.state, before)


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_cancel_releases_notes_and_the_state_hears_it(name):
    player = make_player(name, seed=13)
    ticks = player.codec.ticks(PIECE)
    for tick in ticks[:-1]:
        player.step(tick, play=False)
    player.step(ticks[-1], play=True)
    for _ in range(4 * n_play(name)):
        if player.sounding:
            break
        player.step(EMPTY_TICK, play=True)
    sounding = set(player.sounding)
    assert sounding, "the tiny model never struck a note"

    offs = player.cancel()
    assert offs.offs == tuple(sorted(sounding)) and not offs.ons
    assert player.plan is None and not player.sounding

    heard_by_stream: list[Tick] = []
    listen = player.stream.listen
    player.stream.listen = lambda tick: heard_by_stream.append(tick) or listen(tick)
    assert player.step(EMPTY_TICK, play=False) == EMPTY_TICK
    assert set(heard_by_stream[0].offs) == sounding
    player.step(EMPTY_TICK, play=False)
    assert not heard_by_stream[1].offs  # sent once, not again


def test_not_playing_plans_nothing():
    player = make_player("melody")
    for tick in player.codec.ticks(PIECE):
        assert player.step(tick, play=False) == EMPTY_TICK
        assert player.plan is None
    assert player.ticks == len(player.codec.ticks(PIECE))


def test_key_mask_limits_the_pitches():
    player = make_player("poly", seed=2)
    c_major = [p for p in range(128) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
    player.set_key_mask(c_major)
    answers = listen_then_play(player, 4 * n_play("poly"))
    struck = {p for tick in answers for p, _ in tick.ons}
    assert struck and struck <= set(c_major)


@pytest.mark.parametrize("name", CODEC_NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_livegen_ends_every_note_the_model_no_longer_hears(name, seed):
    """Accompanying in one stream: the musician's notes can mask livegen's (the melody codec
    keeps the top note; releasing a shared pitch ends it for the model). Such a note must
    end at once, not hang until accompaniment stops."""
    player = make_player(name, seed=seed)
    sounding: set[int] = set()  # livegen's notes as sent, replayed from what step returns
    melody = [72, 76, 79, 84, 67, 71, 74, 60]
    for n in range(48):
        p = melody[n // 2 % len(melody)]
        if n % 2 == 0:
            heard = Tick(offs=(melody[(n // 2 - 1) % len(melody)],) if n else (), ons=((p, 90),))
        else:
            heard = EMPTY_TICK
        answer = player.step(heard, play=True)
        # What livegen has sounded so far (this answer's strikes are still to come) and keeps
        # sounding must be what the model hears sounding after this tick.
        kept = sounding - set(answer.offs)
        assert kept <= player.stream.hears(), (n, kept, player.stream.hears())
        sounding = kept | {q for q, _ in answer.ons}
        assert sounding == player.sounding


# ---- metric position: every token of tick n goes in at tick n's place in the bar --------
class PositionStepper:
    """The Player's stepper, writing down the position of every step it is asked for."""

    def __init__(self, stepper) -> None:
        self.inner = stepper
        self.positions: list[int] = []

    def __call__(self, x, state, pos=0):
        self.positions.append(pos)
        return self.inner(x, state, pos)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def metric_player(name: str, beats_per_bar: int = 3, seed: int = 1) -> Player:
    codec = make_codec(name)
    torch.manual_seed(0)
    cfg = ModelConfig(
        codec.vocab_size,
        n_layer=1,
        n_hidden=24,
        n_embd=8,
        frame_input=codec.head == "sigmoid",
        metric=True,
        metric_tpq=codec.ticks_per_quarter,
    )
    model = LSTMModel(cfg).eval()
    player = Player(model, codec, Sampler(seed=seed), beats_per_bar=beats_per_bar)
    player.stepper = PositionStepper(player.stepper)
    return player


def expected(player: Player, n: int) -> int:
    return position(n, player.codec.ticks_per_quarter, player.beats_per_bar, MAX_BEATS)


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_heard_and_planned_tokens_go_in_at_their_ticks_position(name):
    player = metric_player(name)
    ticks = player.codec.ticks(PIECE)
    stepper = player.stepper
    with torch.no_grad():
        for n, tick in enumerate(ticks):
            stepper.positions.clear()
            tokens = player.stream.copy().listen(tick.merge(EMPTY_TICK))
            player.step(tick, play=False)
            assert stepper.positions == [expected(player, n)] * len(tokens)
        stepper.positions.clear()
        player.step(EMPTY_TICK, play=True)  # tick len(ticks), planning the one after
        planned = len(player.plan.tokens)
        assert (
            stepper.positions[len(stepper.positions) - planned :]
            == [expected(player, len(ticks) + 1)] * planned
        )
    # A 3/4 bar of a 4-beat grid: positions wrap every 3 beats, not 4.
    assert expected(player, 3 * player.codec.ticks_per_quarter) == 0


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_the_position_follows_a_renumbering_of_ticks(name):
    """A song position jump or a grid switch: the engine says which tick this is."""
    player = metric_player(name, beats_per_bar=4)
    tpq = player.codec.ticks_per_quarter
    stepper = player.stepper
    with torch.no_grad():
        for tick in player.codec.ticks(PIECE)[:5]:
            player.step(tick, play=True)
        jump = 4 * tpq * 7 + 2 * tpq + 2  # bar 8, beat 3, two ticks in
        stepper.positions.clear()
        player.step(EMPTY_TICK, play=True, tick=jump)
    assert player.ticks == jump + 1
    assert expected(player, jump) == 2 * tpq + 2 != expected(player, 5)
    # The plan made before the jump (at tick 5's position) is not adopted: the heard
    # tick is stepped afresh at the jump's position, then the next plan at the next one.
    heard = [p for p in stepper.positions if p == expected(player, jump)]
    planned = [p for p in stepper.positions if p == expected(player, jump + 1)]
    assert len(heard) + len(planned) == len(stepper.positions)
    if name != "performance":  # its silent ticks have no tokens at all
        assert heard


def test_a_plan_at_the_right_position_is_adopted_and_one_at_the_wrong_one_is_not():
    player = metric_player("melody", beats_per_bar=4)
    with torch.no_grad():
        player.step(EMPTY_TICK, play=False, tick=0)
        player.step(player.codec.ticks(PIECE)[0], play=True, tick=1)
        kept = player.plan
        stepper = player.stepper
        stepper.positions.clear()
        player.step(EMPTY_TICK, play=True, tick=2)  # the tick the plan was made for
        # melody: one token per tick; an adopted plan costs only the next plan's token
        assert stepper.positions == [expected(player, 3)]
        assert kept is not None
        stepper.positions.clear()
        player.step(EMPTY_TICK, play=True, tick=9)  # planned for 3, told 9: step afresh
        assert stepper.positions == [expected(player, 9), expected(player, 10)]


def test_a_metric_model_of_another_grid_is_refused():
    codec = make_codec("melody", ticks_per_quarter=4)
    cfg = ModelConfig(codec.vocab_size, n_hidden=8, n_embd=4, metric=True, metric_tpq=3)
    with pytest.raises(ValueError, match="ticks per quarter"):
        Player(LSTMModel(cfg), codec, Sampler(seed=0))
