"""The harmonize table with a tiny random-weight parts model (the chorale_harmony shape): one
row per yours, each row's batched state equal to stepping that tick with the fused stepper."""

from __future__ import annotations

import pytest
import torch

from livegen.harmonize import candidates, melody_tick, plan
from livegen.notes import EMPTY_TICK, Tick
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
