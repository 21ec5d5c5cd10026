"""Scheduler: events due at ticks, the book of sounding notes, all_off."""

from __future__ import annotations

import random

import mido
import pytest

from livegen.notes import Tick
from livegen.scheduler import Scheduler


class Out:
    """Records sent messages; can be told to fail."""

    def __init__(self):
        self.sent: list[mido.Message] = []
        self.fail = False

    def __call__(self, msg: mido.Message) -> None:
        if self.fail:
            raise OSError("port gone")
        self.sent.append(msg)

    def brief(self) -> list[tuple[str, int]]:
        return [(m.type, m.note) for m in self.sent]


def sounding(messages) -> dict[tuple[int, int], int]:
    """What a synth would still hold after these messages (re-strikes replace)."""
    held: dict[tuple[int, int], int] = {}
    for m in messages:
        key = (m.channel, m.note)
        if m.type == "note_on" and m.velocity > 0:
            held[key] = held.get(key, 0) + 1
        elif m.type in ("note_off", "note_on"):
            held.pop(key, None)
    return held


def test_events_wait_for_their_tick_offs_before_ons():
    out = Out()
    s = Scheduler(out)
    s.note_on(2, 64, 90)
    s.note_off(2, 60)
    s.note_on(0, 60, 80)
    s.note_on(2, 67, 90)
    assert s.send_due(0) == 1
    assert out.brief() == [("note_on", 60)]
    assert s.send_due(1) == 0
    s.send_due(2)
    assert out.brief()[1:] == [("note_off", 60), ("note_on", 64), ("note_on", 67)]
    assert s.pending() == 0
    assert s.open_notes() == [(0, 64), (0, 67)]


def test_late_events_go_out_at_the_next_send():
    out = Out()
    s = Scheduler(out)
    s.note(3, 60, 80, duration=2)
    s.send_due(10)  # ticks 3 and 5 both past
    assert out.brief() == [("note_on", 60), ("note_off", 60)]
    assert s.open_notes() == []


def test_schedule_a_tick_with_velocity_override_and_channel():
    out = Out()
    s = Scheduler(out)
    s.schedule(0, Tick(ons=((60, 70), (64, 71))), channel=2, velocity=100)
    s.schedule(1, Tick(offs=(60,), ons=((67, 50),)), channel=2)
    s.send_due(1)
    assert [(m.type, m.note, m.velocity, m.channel) for m in out.sent] == [
        ("note_on", 60, 100, 2),
        ("note_on", 64, 100, 2),
        ("note_off", 60, 0, 2),
        ("note_on", 67, 50, 2),
    ]


def test_restrike_sends_off_before_on_and_never_double_sounds():
    out = Out()
    s = Scheduler(out)
    s.note_on(0, 60, 80)
    s.note_on(1, 60, 90)  # struck again while sounding
    s.send_due(1)
    assert out.brief() == [("note_on", 60), ("note_off", 60), ("note_on", 60)]
    # One holder struck it twice: one release ends it (a count would leave it sounding).
    s.note_off(2, 60)
    s.send_due(2)
    assert out.brief()[-1] == ("note_off", 60)
    assert s.open_notes() == []


def test_two_holders_of_one_key_the_last_release_ends_it():
    out = Out()
    s = Scheduler(out)
    s.note_on(0, 60, 80)  # livegen's note
    s.send_due(0)
    s.note_on_now(60, 70)  # the musician's, through pass-through: re-struck
    assert out.brief() == [("note_on", 60), ("note_off", 60), ("note_on", 60)]
    s.note_off(1, 60)
    s.send_due(1)
    assert out.brief()[-1] == ("note_on", 60)  # the musician still holds it
    assert s.open_notes() == [(0, 60)]
    s.note_off_now(60)
    assert out.brief()[-1] == ("note_off", 60)
    assert s.open_notes() == []


def test_codec_restrike_in_one_tick():
    out = Out()
    s = Scheduler(out)
    s.schedule(0, Tick(ons=((60, 80),)))
    s.schedule(1, Tick(offs=(60,), ons=((60, 80),)))  # a pitch in both is re-struck
    s.schedule(2, Tick(offs=(60,)))
    s.send_due(2)
    assert out.brief() == [("note_on", 60), ("note_off", 60), ("note_on", 60), ("note_off", 60)]
    assert sounding(out.sent) == {}


def test_stray_note_off_sends_nothing():
    out = Out()
    s = Scheduler(out)
    s.note_off(0, 60)
    s.send_due(0)
    assert out.sent == []


def test_every_note_on_gets_its_note_off_through_all_off():
    rng = random.Random(7)
    out = Out()
    s = Scheduler(out)
    for _ in range(300):
        tick = rng.randrange(40)
        s.note(
            tick,
            rng.randrange(36, 84),
            rng.randrange(1, 128),
            rng.randrange(1, 12),
            channel=rng.randrange(3),
        )
    for tick in range(20):  # stop half way through
        s.send_due(tick)
    assert s.open_notes()
    assert s.pending() > 0
    held = sounding(out.sent)
    assert s.open_notes() == sorted(held)
    assert s.all_off() == len(held)
    assert sounding(out.sent) == {}
    assert s.open_notes() == [] and s.pending() == 0
    s.send_due(100)  # pending note-ons were dropped with the rest
    assert sounding(out.sent) == {}


def test_pass_through_shares_the_book():
    out = Out()
    s = Scheduler(out)
    s.note_on(0, 60, 80)
    s.send_due(0)
    s.note_on_now(60, 100)  # the player strikes the same key: re-strike
    s.note_off_now(60)  # the player lets go: livegen's note still holds it
    assert s.open_notes() == [(0, 60)]
    s.note_on_now(62, 90, channel=1)
    assert s.all_off() == 2
    assert sounding(out.sent) == {}


def test_send_failures_are_counted_and_all_off_keeps_going():
    out = Out()
    s = Scheduler(out)
    for p in (60, 62, 64):
        s.note_on(0, p, 80)
    s.send_due(0)
    out.fail = True
    s.note(1, 65, 80, 1)
    s.send_due(2)  # must not raise
    assert s.send_errors == 2  # the on and the off of 65
    assert (0, 65) in s.open_notes()  # its off failed: it may still sound
    assert s.all_off() == 4
    assert s.send_errors == 6
    assert isinstance(s.last_error, OSError)
    assert s.open_notes() == []


def test_failed_off_is_retried_by_a_restrike():
    out = Out()
    s = Scheduler(out)
    s.note_on_now(60, 80)
    out.fail = True
    s.note_off_now(60)
    out.fail = False
    s.note_on_now(60, 80)
    assert out.brief() == [("note_on", 60), ("note_off", 60), ("note_on", 60)]


def test_clear_pending_keeps_sounding_notes():
    out = Out()
    s = Scheduler(out)
    s.note(0, 60, 80, 4)
    s.note_on(2, 62, 80)
    s.send_due(0)
    s.clear_pending(["note_on"])
    assert s.pending() == 1 and s.next_tick() == 4
    s.send_due(4)
    assert sounding(out.sent) == {}


def test_bad_pitch_or_channel_is_refused_at_once():
    s = Scheduler(Out())
    with pytest.raises(ValueError, match="pitch"):
        s.note_on(0, 128, 80)
    with pytest.raises(ValueError, match="channel"):
        s.note_off(0, 60, channel=16)


def test_planned_lists_the_note_ons_to_come_by_tick():
    s = Scheduler(Out())
    assert s.planned(0) == ()
    s.schedule(5, Tick(offs=(60,), ons=((64, 90), (67, 90))))
    s.note_on(6, 72, 80)
    s.note_off(7, 72)
    assert s.planned(4) == ((5, (64, 67)), (6, (72,)))
    assert s.planned(5) == ((6, (72,)),)  # only what is after the tick given
    s.send_due(5)
    assert s.planned(4) == ((6, (72,)),)  # sent: no longer a plan
    s.all_off()
    assert s.planned(0) == ()
