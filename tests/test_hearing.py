"""Hearing: one tick's stamped inbox -> the musician's Tick, the CCs left over, what was ignored.

No ports, no thread: plain lists of mido messages, one list per tick.
"""

from __future__ import annotations

import mido
import pytest

from livegen.hearing import Hearing
from livegen.notes import Tick


def on(p: int, v: int = 100) -> mido.Message:
    return mido.Message("note_on", note=p, velocity=v)


def off(p: int) -> mido.Message:
    return mido.Message("note_off", note=p)


def cc(number: int, value: int) -> mido.Message:
    return mido.Message("control_change", control=number, value=value)


def stamped(*messages: mido.Message) -> list[tuple[float, mido.Message]]:
    return [(i * 0.001, m) for i, m in enumerate(messages)]


def hear(hearing: Hearing, *messages: mido.Message, dropped: int = 0):
    return hearing.hear(stamped(*messages), dropped)


PEDAL_DOWN, PEDAL_UP = cc(64, 127), cc(64, 0)


def test_note_on_then_note_off_in_later_ticks():
    h = Hearing()
    first = hear(h, on(60, 101), on(64, 80))
    assert first.tick == Tick((), ((60, 101), (64, 80)))
    assert first.struck and h.sounding and h.keys() == (60, 64)
    assert h.velocity == 80  # the last strike's
    held = hear(h)
    assert held.tick == Tick() and not held.struck and h.sounding
    assert hear(h, off(60)).tick == Tick((60,), ())
    assert hear(h, off(64)).tick == Tick((64,), ())
    assert not h.sounding and h.keys() == ()


def test_a_note_on_at_velocity_zero_is_a_note_off():
    h = Hearing()
    hear(h, on(60))
    assert hear(h, on(60, 0)).tick == Tick((60,), ())
    assert not h.sounding


def test_a_note_struck_and_released_in_one_tick_lasts_one_tick():
    h = Hearing()
    first = hear(h, on(60, 70), off(60))
    assert first.tick == Tick((), ((60, 70),))  # struck, not released in the same tick
    assert not h.sounding  # the key is up already
    assert hear(h).tick == Tick((60,), ())  # released at the next tick
    assert hear(h).tick == Tick()  # and only once


def test_a_restrike_is_one_strike_with_the_new_velocity():
    h = Hearing()
    hear(h, on(60, 50))
    heard = hear(h, off(60), on(60, 110))
    assert heard.tick == Tick((), ((60, 110),)) and h.held == {60}


def test_the_pedal_holds_released_notes_until_it_lifts():
    h = Hearing()
    hear(h, PEDAL_DOWN, on(60), on(64))
    assert hear(h, off(60), off(64)).tick == Tick()
    assert h.sounding and h.keys() == (60, 64) and h.held == set()
    assert hear(h).tick == Tick()
    hear(h, on(67))
    lifted = hear(h, PEDAL_UP)
    assert lifted.tick == Tick((60, 64), ())  # 67 is still held down: it goes on
    assert h.keys() == (67,) and not h.pedal
    assert lifted.ccs == ()  # the pedal is Hearing's, not the CC map's


def test_a_sustained_key_struck_again_is_held_and_outlasts_the_pedal():
    h = Hearing()
    hear(h, PEDAL_DOWN, on(60))
    hear(h, off(60))
    assert hear(h, on(60, 99)).tick == Tick((), ((60, 99),))
    assert hear(h, PEDAL_UP).tick == Tick()
    assert h.keys() == (60,)


def test_pedal_values_below_64_are_up():
    h = Hearing()
    hear(h, cc(64, 64), on(60))
    hear(h, off(60))
    assert h.sounding
    assert hear(h, cc(64, 63)).tick == Tick((60,), ())


def test_a_pedal_lift_in_the_tick_of_a_strike_lets_that_strike_last_one_tick():
    h = Hearing()
    hear(h, PEDAL_DOWN)
    first = hear(h, on(60), off(60), PEDAL_UP)
    assert first.tick == Tick((), ((60, 100),))
    assert hear(h).tick == Tick((60,), ())
    assert not h.sounding


@pytest.mark.parametrize(("number", "why"), [(123, "All Notes Off"), (120, "All Sound Off")])
def test_all_notes_off_and_all_sound_off_release_every_key_and_the_pedal(number, why):
    h = Hearing()
    hear(h, on(48), PEDAL_DOWN, on(60))
    hear(h, off(60))  # sustained
    assert h.keys() == (48, 60) and h.pedal
    heard = hear(h, cc(number, 0))
    assert heard.tick == Tick((48, 60), ())
    assert heard.released_all == why
    assert heard.ccs == ()
    assert not h.sounding and not h.pedal
    hear(h, on(50))
    assert hear(h, off(50)).tick == Tick((50,), ())  # the pedal is up: no longer sustained


def test_all_notes_off_after_a_strike_in_the_same_tick_lets_it_last_one_tick():
    h = Hearing()
    hear(h, on(48))
    heard = hear(h, on(60), cc(123, 0))
    assert heard.tick == Tick((48,), ((60, 100),))
    assert hear(h).tick == Tick((60,), ())
    assert not h.sounding


def test_reset_all_controllers_lifts_the_pedal_but_keeps_held_keys():
    h = Hearing()
    hear(h, PEDAL_DOWN, on(60), on(64))
    hear(h, off(60))
    heard = hear(h, cc(121, 0))
    assert heard.tick == Tick((60,), ()) and heard.ccs == ()
    assert not h.pedal and h.keys() == (64,)
    assert hear(h, cc(121, 0)).tick == Tick()  # with the pedal up it changes nothing


def test_an_overflow_releases_every_held_key_once():
    h = Hearing()
    hear(h, PEDAL_DOWN, on(60), on(62))
    hear(h, off(62))
    heard = hear(h, dropped=3)
    assert heard.tick == Tick((60, 62), ())
    assert heard.released_all and "overflow" in heard.released_all
    assert not h.sounding and not h.pedal
    hear(h, on(65), dropped=3)  # the count is the input's running total
    calm = hear(h, dropped=3)  # the count did not grow: nothing more was lost
    assert calm.tick == Tick() and calm.released_all is None and h.keys() == (65,)
    assert hear(h, dropped=4).tick == Tick((65,), ())


def test_an_overflow_while_silent_releases_nothing():
    h = Hearing()
    heard = hear(h, dropped=1)
    assert heard.tick == Tick() and heard.released_all is None


def test_an_overflow_keeps_the_strikes_heard_in_its_tick_for_one_tick():
    h = Hearing()
    heard = hear(h, on(60), dropped=1)
    assert heard.tick == Tick((), ((60, 100),))
    assert hear(h, dropped=1).tick == Tick((60,), ())


def test_other_control_changes_are_passed_on_in_order():
    h = Hearing()
    heard = hear(h, cc(1, 10), on(60), cc(7, 100), cc(1, 11), cc(74, 0))
    assert heard.ccs == ((1, 10), (7, 100), (1, 11), (74, 0))
    assert heard.tick == Tick((), ((60, 100),)) and heard.ignored == 0


def test_messages_that_are_not_livegens_are_counted_as_ignored():
    h = Hearing()
    heard = hear(
        h,
        mido.Message("sysex", data=[1, 2, 3]),
        mido.Message("aftertouch", value=20),
        mido.Message("polytouch", note=60, value=20),
        mido.Message("program_change", program=5),
        on(60),
    )
    assert heard.ignored == 4
    assert heard.tick == Tick((), ((60, 100),)) and heard.ccs == ()
    assert hear(h).ignored == 0  # a count per tick


def test_an_empty_inbox_is_an_empty_tick():
    heard = Hearing().hear([])
    assert heard.tick == Tick() and heard.ccs == () and heard.ignored == 0
    assert heard.released_all is None and not heard.struck
