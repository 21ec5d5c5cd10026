"""Clocks on a fake time source: fixed deadlines, tempo changes, led MIDI clock."""

from __future__ import annotations

import random

import pytest

from livegen.clock import (
    PPQN,
    ClockSender,
    InternalClock,
    tick_period,
)


class FakeTime:
    """A clock whose sleeps oversleep by a random amount, like a loaded machine."""

    def __init__(self, seed: int = 0, oversleep: float = 0.0, spin_step: float = 5e-6):
        self.t = 1000.0
        self.rng = random.Random(seed)
        self.oversleep = oversleep
        self.spin_step = spin_step
        self.sleeps = 0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps += 1
        self.t += max(s, self.spin_step) + self.rng.uniform(0, self.oversleep)


def make_clock(ft: FakeTime, bpm: float = 120.0, tpq: int = 4) -> InternalClock:
    return InternalClock(bpm, tpq, now=ft.now, sleep=ft.sleep)


def test_period():
    assert tick_period(120, 4) == pytest.approx(0.125)
    assert make_clock(FakeTime(), 90, 12).period == pytest.approx(60 / (90 * 12))
    with pytest.raises(ValueError, match="positive"):
        tick_period(0, 4)


def test_deadlines_never_drift_with_random_oversleep():
    ft = FakeTime(seed=1, oversleep=0.004)  # up to 4 ms late on every sleep
    clock = make_clock(ft)
    clock.start()
    t0 = ft.t
    lates = []
    for n in range(10_000):
        lates.append(clock.wait(n))
        assert ft.t >= t0 + n * 0.125  # never early
    # The deadline of the last tick is exactly where the grid puts it, and lateness
    # stays bounded by one oversleep instead of growing with n.
    assert clock.deadline(9_999) == pytest.approx(t0 + 9_999 * 0.125, abs=1e-9)
    assert max(lates) < 0.0045
    assert sum(lates[-1000:]) / 1000 < 0.0045


def test_wait_sleeps_then_spins_close_to_the_deadline():
    ft = FakeTime(seed=2)
    clock = make_clock(ft)
    clock.start()
    late = clock.wait(1)
    assert 0 <= late < 1e-5
    assert ft.sleeps >= 2  # one long sleep, then short spin steps


def test_late_tick_returns_at_once_and_reports_lateness():
    ft = FakeTime()
    clock = make_clock(ft)
    clock.start()
    ft.t += 0.3  # the step took too long: ticks 1 and 2 are already past
    assert clock.wait(1) == pytest.approx(0.175)
    assert clock.wait(2) == pytest.approx(0.05)
    assert clock.tick_at(ft.t) == 2


def test_tempo_change_applies_at_the_next_tick():
    ft = FakeTime(seed=3, oversleep=0.001)
    clock = make_clock(ft)
    clock.start()
    t0 = ft.t
    for n in range(8):
        clock.wait(n)
    clock.set_tempo(60)  # tick period 0.125 -> 0.25
    assert clock.period == pytest.approx(0.25)
    assert clock.deadline(7) == pytest.approx(t0 + 7 * 0.125)
    assert clock.deadline(8) == pytest.approx(t0 + 7 * 0.125 + 0.25)
    clock.wait(8)
    clock.wait(9)
    clock.set_tempo(240)
    assert clock.deadline(10) == pytest.approx(t0 + 7 * 0.125 + 2 * 0.25 + 0.0625)
    assert clock.bpm == 240


def test_tempo_before_start_just_sets_the_period():
    ft = FakeTime()
    clock = make_clock(ft)
    clock.set_tempo(60)
    clock.start(at=5.0, tick=10)
    assert clock.deadline(10) == 5.0
    assert clock.deadline(12) == pytest.approx(5.5)


def test_clock_sender_pulses_follow_the_deadlines():
    ft = FakeTime()
    clock = make_clock(ft)
    clock.start(at=0.0)
    sender = ClockSender(clock)
    times = sender.pulse_times(3)
    assert len(times) == 6
    assert times[0] == pytest.approx(0.375)
    assert times[1] - times[0] == pytest.approx(0.125 / 6)
    sched = sender.schedule(0, start=True)
    assert [m.type for _, m in sched] == ["start"] + ["clock"] * 6


# -- MIDI clock follower -----------------------------------------------------------


@pytest.mark.parametrize("old, new", [(4, 12), (12, 4), (4, 2)])
def test_led_clock_keeps_24_pulses_a_quarter_through_a_switch_of_grid(old, new):
    """The engine switches at tick n right after its first pulse left; the rest of tick n's
    pulses must still come, on the new grid's spacing (they were dropped before)."""
    import threading

    from livegen.clock import InternalTicks
    from livegen.switch import Regrid

    ft = FakeTime(spin_step=1e-6)
    sent: list[float] = []
    ticks = InternalTicks(make_clock(ft, 120.0, old), send=lambda m: sent.append(ft.t))
    stop = threading.Event()
    ticks.start(0, ft.t + 0.01)
    t0 = ft.t + 0.01
    n = old  # one quarter of the old grid, then the switch on its line
    for k in range(n + 1):
        ticks.wait(k, lambda: None, stop)
    regrid = Regrid(n, old, new)
    ticks.regrid(regrid)
    for k in range(regrid.m + 1, regrid.m + new + 1):  # one quarter of the new grid
        ticks.wait(k, lambda: None, stop)
    clocks = sent[1:]  # the first message is Start
    assert len(clocks) == 2 * PPQN + 1  # two quarters of pulses and the next downbeat
    gaps = [b - a for a, b in zip(clocks, clocks[1:], strict=False)]
    assert max(gaps) == pytest.approx(0.5 / PPQN, abs=2e-5)  # 120 BPM: 20.8 ms apart
    assert min(gaps) == pytest.approx(0.5 / PPQN, abs=2e-5)
    assert clocks[0] == pytest.approx(t0, abs=2e-5)
