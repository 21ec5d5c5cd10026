"""The harmonize table with a tiny random-weight parts model (the chorale_harmony shape): one
row per yours, each row's batched state equal to stepping that tick with the fused stepper."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from livegen.harmonize import Job, Planner, candidates, melody_tick, plan
from livegen.model import LSTMModel, ModelConfig
from livegen.notes import EMPTY_TICK, Tick
from livegen.parts_player import PartsPlayer
from livegen.sampling import Sampler
from livegen.scales import key_pitches
from tests.reference_table import reference_plan
from tests.test_parts_player import CODEC, make_player, melody_ticks


def warmed(seed: int = 3, ticks: int = 9):
    """A player that has played beside a melody for ``ticks`` ticks (a note held now)."""
    player = make_player(seed=seed)
    with torch.inference_mode():
        for tick in melody_ticks(ticks):
            player.step_parts(tick, play=True)
    return player


def test_a_row_per_pitch_of_your_range_then_held_then_silence():
    player = warmed()
    held = set(player.stream.yours)
    assert len(held) == 1, "the melody holds one note"
    rows = candidates(player)
    part = CODEC.your_part
    assert len(rows) == part.high - part.low + 1 + 2  # B = range + 2
    for p, row in zip(range(part.low, part.high + 1), rows, strict=False):
        assert row == Tick(tuple(sorted(held)), ((p, 80),)), "a strike replaces the held note"
    assert rows[-2:] == [EMPTY_TICK, Tick(offs=tuple(held))]


@pytest.mark.parametrize("seed", [3, 5])
@pytest.mark.parametrize("which", [0, 7, -2, -1])  # strikes, held, silence
def test_adopting_a_row_is_stepping_that_tick_with_the_rows_harmony(seed, which):
    """A row's batched state and logits are what the fused single-row step reaches."""
    player, twin = warmed(seed), warmed(seed)  # the same session twice (seeded)
    n = player.ticks
    with torch.inference_mode():
        table = plan(player, n)
        assert all(row.usable for row in table.rows)
        b = which % len(table.rows)
        row = table.rows[b]
        stepped = twin.step_parts(row.yours, play=True, tick=n, mine=row.mine)
        assert table.adopt(b, row.yours) == stepped
    assert torch.allclose(player.logits, twin.logits, atol=1e-4)
    for a, s in zip(player.state, twin.state, strict=True):
        assert torch.allclose(a, s, atol=1e-4)
    assert player.stream.hears_parts() == twin.stream.hears_parts()
    assert player.sounding == twin.sounding and player.ticks == twin.ticks == n + 1


def test_every_row_plays_by_my_parts_grammar():
    player = warmed(seed=6)
    with torch.inference_mode():
        table = plan(player, player.ticks)
    part = CODEC.my_part
    mine_now = set(player.stream.mine)
    struck_any = False
    for row in table.rows:
        struck = [p for p, _ in row.mine.ons]
        assert all(part.low <= p <= part.high for p in struck)
        assert set(row.mine.offs) <= mine_now
        assert len((mine_now - set(row.mine.offs)) | set(struck)) <= part.max_notes
        struck_any |= bool(struck)
    assert struck_any, "a random model at temperature 1 plays something in some row"


def test_row_for_matches_what_the_stream_hears_and_nothing_else():
    player = warmed()
    with torch.inference_mode():
        table = plan(player, player.ticks)
    held = tuple(sorted(player.stream.yours))
    assert table.row_for(Tick(held, ((67, 90),))) == 67 - CODEC.your_part.low
    assert table.row_for(Tick(held, ((67 - 12, 90),))) == 67 - CODEC.your_part.low  # folded up
    assert table.row_for(EMPTY_TICK) == len(table.rows) - 2
    assert table.row_for(Tick(offs=held)) == len(table.rows) - 1
    # A lower note struck while the melody holds, heard raw, keeps the held note (the codec
    # caps the part at its highest): the hold row. Through melody_tick it is the strike.
    legato = Tick((), ((62, 90),))
    assert table.row_for(legato) == len(table.rows) - 2
    assert table.row_for(melody_tick(legato, set(held))[0]) == 62 - CODEC.your_part.low


def test_the_table_is_valid_only_for_its_player_tick_and_releases():
    player = warmed()
    with torch.inference_mode():
        table = plan(player, player.ticks)
    assert table.valid_for(player, player.ticks)
    assert not table.valid_for(player, player.ticks + 1)  # a jump
    assert not table.valid_for(warmed(), player.ticks)  # a switch
    player.cancel()  # stop, end of accompaniment: releases pending the table did not hear
    assert not table.valid_for(player, player.ticks) or not player.pending_releases


def test_a_melody_strike_replaces_the_held_note_and_a_chord_keeps_its_top():
    assert melody_tick(Tick(ons=((64, 90),)), {72}) == (Tick((72,), ((64, 90),)), False)
    tick, chord = melody_tick(Tick(ons=((60, 90), (67, 80), (64, 70))), set())
    assert tick == Tick((), ((67, 80),)) and chord
    assert melody_tick(Tick(offs=(72,)), {72}) == (Tick(offs=(72,)), False)


# ---- the fast build, the reference, and the table ahead ----------------------------------
def metric_player(seed: int = 3, ticks: int = 9) -> PartsPlayer:
    """As ``warmed``, with a metric model (a position row added at layer 0) and a key lock."""
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=CODEC.vocab_size, n_layer=2, n_hidden=24, n_embd=8,
                      metric=True, metric_tpq=4, metric_beats=8)  # fmt: skip
    player = PartsPlayer(LSTMModel(cfg).eval(), CODEC, Sampler(temperature=1.0, seed=seed))
    player.set_key_mask(key_pitches("C major"))
    with torch.inference_mode():
        for tick in melody_ticks(ticks):
            player.step_parts(tick, play=True)
    return player


def same_table(a, b, exact: bool = False) -> bool:
    """Two tables plan the same rows from the same states (``exact``: bit for bit)."""
    rows = [(r.yours, r.tokens, r.mine, r.usable, r.stream.hears_parts()) for r in a.rows]
    if rows != [(r.yours, r.tokens, r.mine, r.usable, r.stream.hears_parts()) for r in b.rows]:
        return False
    pairs = ((a._h, b._h), (a._c, b._c), (a._logits, b._logits))
    if exact:
        return all(torch.equal(x, y) for x, y in pairs)
    return all(torch.allclose(x, y, atol=1e-5) for x, y in pairs)


def reseeded(player, seed: int):
    player.sampler.reseed(seed)
    return player


@pytest.mark.parametrize("make", [warmed, metric_player])
@pytest.mark.parametrize("seed", [3, 8])
def test_the_fast_table_equals_the_reference_build(make, seed):
    """The batch step's table is the nn.LSTM build's, row for row, from the same draws."""
    player = make(seed)
    n = player.ticks
    with torch.inference_mode():
        fast = Planner(player).build(Job.of(player, n, Sampler(temperature=1.0, seed=seed)))
        ref = reference_plan(reseeded(player, seed), n)
    assert same_table(fast, ref)
    assert any(row.mine.ons for row in fast.rows)


def ahead_of(player, row: int, seed: int):
    """The table for the next tick built ahead from ``row`` of this tick's table."""
    planner = Planner(player)
    n = player.ticks
    with torch.inference_mode():
        table = planner.plan(n)
        b = 67 - CODEC.your_part.low if row == "strike" else table.quiet_rows()[row]
        ahead = planner.build(table.ahead(b, Sampler(temperature=1.0, seed=seed)))
    return planner, table, b, ahead


@pytest.mark.parametrize("make", [warmed, metric_player])
@pytest.mark.parametrize("row", [0, -1, "strike"])  # your note held, released; 67 struck
def test_a_table_built_ahead_from_a_row_equals_a_fresh_build_once_the_row_is_adopted(row, make):
    player = make(4)
    planner, table, b, ahead = ahead_of(player, row, seed=11)
    assert table.quiet_rows()[-1] == len(table.rows) - 1 and len(table.quiet_rows()) == 2
    with torch.inference_mode():
        table.adopt(b, table.rows[b].yours)  # tick n is that row
        fresh = planner.build(Job.of(player, player.ticks, Sampler(temperature=1.0, seed=11)))
    assert ahead.tick == fresh.tick == table.tick + 1
    assert ahead.valid_for(player, player.ticks) and ahead.sampled_as_now()
    assert same_table(ahead, fresh, exact=True)


def test_a_table_ahead_is_stale_once_mine_or_yours_changed():
    player = warmed(seed=4)
    _, table, b, ahead = ahead_of(player, 0, seed=11)
    with torch.inference_mode():
        other = table.quiet_rows()[1]
        table.adopt(other, table.rows[other].yours)  # you released instead of holding
    assert not ahead.valid_for(player, player.ticks)
    player2 = warmed(seed=4)
    _, table2, b2, ahead2 = ahead_of(player2, 0, seed=11)
    with torch.inference_mode():
        table2.adopt(b2, table2.rows[b2].yours)
    assert ahead2.valid_for(player2, player2.ticks)
    player2.cancel()  # my notes ended (stop, panic): the state must hear it first
    assert player2.pending_releases and not ahead2.valid_for(player2, player2.ticks)
    player2.sampler.temperature = 0.5  # a control changed the draws
    assert not ahead2.sampled_as_now()


def test_a_table_built_from_the_wrong_state_is_not_the_fresh_one():
    """The equality above can fail: the right stream with another row's state differs."""
    player = warmed(seed=4)
    planner, table, b, _ = ahead_of(player, 0, seed=11)
    good = table.ahead(b, Sampler(temperature=1.0, seed=11))
    wrong_b = table.quiet_rows()[1]
    h, c = table._h[:, wrong_b : wrong_b + 1].clone(), table._c[:, wrong_b : wrong_b + 1].clone()
    wrong = dataclasses.replace(good, h=h, c=c)  # row b's stream, another row's state
    with torch.inference_mode():
        stale = planner.build(wrong)
        table.adopt(b, table.rows[b].yours)
        fresh = planner.build(Job.of(player, player.ticks, Sampler(temperature=1.0, seed=11)))
    assert not same_table(stale, fresh)
