"""Modes: the per-tick state machine of continue, accompany, harmonize and free, purely."""

from __future__ import annotations

import pytest

from livegen.modes import BEGIN, END, LISTEN, PLAY, End, Mode, Modes, Phase
from livegen.switch import Regrid

SILENCE, BAR = 4, 16


def modes(mode: Mode = Mode.CONTINUE, silence: int = SILENCE, bar: int = BAR) -> Modes:
    return Modes(mode, silence_ticks=silence, ticks_per_bar=bar)


def run(m: Modes, start: int, ticks: int, bars: float, struck=(), sounding=()) -> list:
    """Decisions for ticks start..start+ticks-1; ``struck``/``sounding``: tick numbers."""
    return [m.decide(n, n in struck, n in sounding, bars) for n in range(start, start + ticks)]


def test_the_decisions_are_what_the_engine_reads():
    assert (LISTEN.play, LISTEN.end) == (False, End.NONE)
    assert (PLAY.play, PLAY.end) == (True, End.NONE)
    assert (END.play, END.end) == (False, End.NOTES)
    assert (BEGIN.play, BEGIN.end) == (True, End.BEGIN)
    assert [m.next() for m in Mode] == [Mode.ACCOMPANY, Mode.HARMONIZE, Mode.FREE, Mode.CONTINUE]


def test_continue_listens_while_nobody_plays():
    m = modes()
    assert run(m, 0, 50, 1) == [LISTEN] * 50
    assert m.phase is Phase.LISTENING


def test_continue_answers_after_silence_ticks_for_response_bars():
    m = modes()
    out = run(m, 0, 40, 1, struck={0}, sounding={0, 1, 2})
    # The last note sounded at tick 2: silence from 3; answer at 2 + SILENCE.
    start = 2 + SILENCE
    assert out[:start] == [LISTEN] * start
    assert out[start] is BEGIN
    answer = out[start : start + BAR]  # one bar: BAR ticks planned, BEGIN included
    assert answer == [BEGIN] + [PLAY] * (BAR - 1)
    assert out[start + BAR] is END
    assert out[start + BAR + 1 :] == [LISTEN] * (40 - start - BAR - 1)
    assert m.phase is Phase.LISTENING


@pytest.mark.parametrize(("bars", "length"), [(0.5, BAR // 2), (2, 2 * BAR), (0.01, 1)])
def test_the_answer_lasts_response_bars(bars, length):
    m = modes()
    out = run(m, 0, SILENCE + length + 2, bars, struck={0})
    assert out[SILENCE] is BEGIN
    assert out[SILENCE : SILENCE + length] == [BEGIN] + [PLAY] * (length - 1)
    assert out[SILENCE + length] is END


def test_response_bars_zero_answers_as_long_as_the_call():
    m = modes()
    call = {3, 4, 5, 6, 7, 8}  # struck at 3, held to 8: a call of 6 ticks
    out = run(m, 0, 30, 0, struck={3}, sounding=call)
    start = 8 + SILENCE
    assert out[start : start + 6] == [BEGIN] + [PLAY] * 5
    assert out[start + 6] is END
    assert m.answer_len == 6


def test_striking_during_an_answer_ends_it_and_starts_a_new_call():
    m = modes()
    out = run(m, 0, SILENCE + 3, 1, struck={0})
    assert out[SILENCE] is BEGIN and m.phase is Phase.ANSWERING
    n = SILENCE + 3
    assert m.decide(n, True, True, 1) is END
    assert m.phase is Phase.LISTENING and m.call_start == n
    out = run(m, n + 1, SILENCE, 1)
    assert out[:-1] == [LISTEN] * (SILENCE - 1) and out[-1] is BEGIN  # answers the new call


def test_a_held_key_does_not_end_an_answer_only_a_strike_does():
    m = modes()
    run(m, 0, SILENCE + 1, 1, struck={0})
    n = SILENCE + 1
    out = run(m, n, BAR, 1, sounding=set(range(n, n + BAR)))
    assert out == [PLAY] * (BAR - 1) + [END]


def test_end_call_answers_at_the_next_decision_without_the_silence():
    m = modes()
    assert m.decide(0, True, True, 0) is LISTEN
    assert m.decide(1, False, True, 0) is LISTEN
    assert m.end_call(2)
    assert m.decide(2, False, True, 0) is BEGIN  # still sounding: answered anyway
    assert m.answer_len == 3 and m.phase is Phase.ANSWERING
    assert not m.end_call(3)  # already answering


def test_end_call_before_anything_was_played_answers_one_tick():
    m = modes()
    assert m.end_call(5)
    assert m.decide(5, False, False, 0) is BEGIN
    assert m.decide(6, False, False, 0) is END


def test_end_call_is_for_continue_mode_only():
    for mode in (Mode.ACCOMPANY, Mode.FREE):
        assert not modes(mode).end_call(0)


@pytest.mark.parametrize("mode", [Mode.ACCOMPANY, Mode.HARMONIZE])
def test_accompany_plays_while_heard_and_ends_when_the_musician_stops(mode):
    """harmonize decides as accompany does; only how the voice answers differs (voice_step)."""
    m = modes(mode)
    assert run(m, 0, 5, 1) == [LISTEN] * 5  # nothing heard yet: nothing played
    out = run(m, 5, 20, 1, struck={5, 9}, sounding=set(range(5, 12)))
    # Heard up to 11: plays while the silence is shorter than SILENCE, then END once.
    assert out[: 11 - 5 + SILENCE] == [PLAY] * (11 - 5 + SILENCE)
    assert m.phase is Phase.LISTENING
    assert out[11 - 5 + SILENCE] is END
    assert out[11 - 5 + SILENCE + 1 :] == [LISTEN] * (20 - (11 - 5 + SILENCE) - 1)
    assert m.decide(25, True, True, 1) is PLAY and m.phase is Phase.ACCOMPANYING


def test_free_always_plays():
    m = modes(Mode.FREE)
    assert run(m, 0, 30, 1, struck={3, 10}, sounding={3, 4, 10}) == [PLAY] * 30
    assert m.phase is Phase.PLAYING


@pytest.mark.parametrize("mode", list(Mode))
def test_stop_plans_nothing_until_play(mode):
    m = modes(mode)
    run(m, 0, 3, 1, struck={0})
    m.stop()
    assert run(m, 3, 20, 1, struck={5}, sounding={5, 6}) == [LISTEN] * 20
    assert m.phase is Phase.STOPPED
    m.play()
    assert m.phase is Phase.LISTENING
    if mode is Mode.FREE:
        assert m.decide(23, False, False, 1) is PLAY


def test_stop_forgets_the_call_so_play_waits_for_a_new_one():
    m = modes()
    m.decide(0, True, True, 1)
    m.stop()
    m.play()
    assert run(m, 1, 30, 1) == [LISTEN] * 30


def test_stop_during_an_answer_drops_it():
    m = modes()
    run(m, 0, SILENCE + 2, 1, struck={0})
    m.stop()
    m.play()
    assert run(m, SILENCE + 2, 30, 1) == [LISTEN] * 30


def test_set_mode_says_whether_it_changed_and_listens_anew():
    m = modes()
    assert not m.set_mode(Mode.CONTINUE)
    assert not m.set_mode("continue")
    run(m, 0, SILENCE + 2, 1, struck={0})
    assert m.phase is Phase.ANSWERING
    assert m.set_mode("free") and m.mode is Mode.FREE
    assert m.phase is Phase.LISTENING and m.call_start is None
    m.stop()
    assert m.set_mode(Mode.ACCOMPANY) and m.phase is Phase.STOPPED


def test_a_mode_left_mid_answer_does_not_resume_it():
    m = modes()
    run(m, 0, SILENCE + 2, 1, struck={0})
    m.set_mode(Mode.FREE)
    m.set_mode(Mode.CONTINUE)
    assert run(m, SILENCE + 2, 30, 1) == [LISTEN] * 30


def test_restart_answer_plays_the_whole_answer_again():
    m = modes()
    assert not m.restart_answer()  # nothing answered yet
    out = run(m, 0, SILENCE + BAR + 1, 1, struck={0})
    assert out[-1] is END and m.phase is Phase.LISTENING
    assert m.restart_answer() and m.phase is Phase.ANSWERING
    n = SILENCE + BAR + 1
    assert run(m, n, BAR, 1) == [PLAY] * (BAR - 1) + [END]


def test_restart_answer_is_for_continue_mode_only():
    m = modes()
    run(m, 0, SILENCE + 2, 1, struck={0})
    m.set_mode(Mode.ACCOMPANY)
    assert not m.restart_answer()


def test_interrupt_ends_the_answer_and_forgets_the_call():
    m = modes()
    run(m, 0, SILENCE + 2, 1, struck={0})
    m.interrupt()
    assert m.phase is Phase.LISTENING and m.call_start is None
    assert run(m, SILENCE + 2, 20, 1) == [LISTEN] * 20


def test_regrid_scales_an_answer_in_flight_to_the_new_grid():
    m = modes()
    run(m, 0, SILENCE + 1 + 5, 1, struck={0})  # BEGIN, then 5 PLAYs: BAR - 5 left
    assert m.answer_left == BAR - 5
    n = SILENCE + 6  # the next tick
    m.regrid(Regrid(n, 1, 3))  # a grid three times finer: tick t is now 3 t
    assert m.ticks_per_bar == 3 * BAR
    assert (m.answer_len, m.answer_left) == (3 * BAR, 3 * (BAR - 5))
    assert m.last_heard == 0
    out = run(m, 3 * n, 3 * (BAR - 5), 1)
    assert out == [PLAY] * (3 * (BAR - 5) - 1) + [END]


def test_regrid_moves_the_call_and_keeps_the_silence_as_long_in_time():
    m = modes()
    m.decide(10, True, True, 0)
    m.decide(11, False, True, 0)
    m.regrid(Regrid(11, 1, 2))  # tick t is now 2 t: ticks half as long
    assert (m.call_start, m.last_heard) == (20, 22)
    out = run(m, 23, 2 * SILENCE, 0)
    assert out == [LISTEN] * (2 * SILENCE - 1) + [BEGIN]
    assert m.answer_len == 22 - 20 + 1


def test_regrid_before_anything_was_heard_keeps_the_silence_endless():
    m = modes(Mode.ACCOMPANY)
    m.regrid(Regrid(500, 1, 2))  # tick 500 is now 1000
    assert run(m, 1000, 10, 1) == [LISTEN] * 10
