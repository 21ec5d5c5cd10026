"""History and ticks_between: the session as notes, laid out again on any grid, seamlessly.

No model and no thread: a History is fed ticks by hand, and the switcher's prepare and
catch_up run on a fake Player that writes down what it heard.
"""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from livegen.notes import Tick
from livegen.switch import History, Regrid, Switcher, catch_up, on_grid, ticks_between

TPQ = 4
FOREVER = 1e9  # a horizon nothing falls out of


@st.composite
def sessions(draw, max_ticks: int = 48) -> list[Tick]:
    """Ticks as Hearing and the players make them: offs of sounding pitches, then strikes.

    A strike of a sounding pitch is written as a re-strike (its off in the same tick), the
    one form a note list can give back.
    """
    pitches = st.integers(60, 67)
    sounding: set[int] = set()
    ticks = []
    for _ in range(draw(st.integers(0, max_ticks))):
        offs = {p for p in draw(st.sets(pitches, max_size=3)) if p in sounding}
        ons = draw(st.dictionaries(pitches, st.integers(1, 127), max_size=3))
        offs |= {p for p in ons if p in sounding}
        sounding = (sounding - offs) | set(ons)
        ticks.append(Tick(tuple(sorted(offs)), tuple(sorted(ons.items()))))
    return ticks


def recorded(ticks: list[Tick], tpq: int = TPQ, horizon: float = FOREVER) -> History:
    history = History(tpq, horizon)
    for n, tick in enumerate(ticks):
        history.record(n, tick)
    return history


def test_history_keeps_notes_in_quarters_and_the_time_recorded_up_to():
    history = recorded([Tick(ons=((60, 90),)), Tick(), Tick((60,), ((62, 70),)), Tick()])
    notes, end = history.view()
    assert notes == [(60, 0.0, 0.5, 90), (62, 0.5, None, 70)]
    assert end == 1.0


def test_a_strike_of_a_sounding_pitch_ends_the_note_before_it():
    notes, _ = recorded([Tick(ons=((60, 90),)), Tick(), Tick(ons=((60, 40),))]).view()
    assert notes == [(60, 0.0, 0.5, 90), (60, 0.5, None, 40)]
    laid = ticks_between(notes, 0, 0.75, TPQ, sounding_at_a=True)
    assert laid[2] == Tick((60,), ((60, 40),))  # laid out as the re-strike it was


def test_an_off_of_a_silent_pitch_is_not_a_note():
    notes, _ = recorded([Tick(offs=(60,)), Tick(ons=((61, 5),))]).view()
    assert notes == [(61, 0.25, None, 5)]


def test_the_horizon_forgets_notes_that_ended_before_it():
    ticks = [Tick(ons=((60, 90),)), Tick((60,), ((62, 90),)), Tick((62,), ())]
    history = recorded(ticks + [Tick()] * 8, horizon=2.0)  # recorded up to 2.75
    notes, end = history.view()
    assert end == 2.75 and notes == []  # 62 ended at 0.5, before 0.75
    history = recorded(ticks + [Tick()] * 7, horizon=2.0)  # up to 2.5: 60 ended at 0.25
    notes, _ = history.view()
    assert [n[0] for n in notes] == [62]


def test_the_horizon_keeps_a_note_that_still_sounds():
    history = recorded([Tick(ons=((48, 90),))] + [Tick()] * 40, horizon=1.0)
    assert history.view()[0] == [(48, 0.0, None, 90)]


def test_a_view_is_a_copy():
    history = recorded([Tick(ons=((60, 90),))])
    notes, _ = history.view()
    history.record(1, Tick(offs=(60,)))
    assert notes == [(60, 0.0, None, 90)]
    assert history.view()[0] == [(60, 0.0, 0.25, 90)]


def test_regrid_maps_ticks_between_grids_down_or_up_to_a_line():
    finer, coarser = Regrid(8, 4, 12), Regrid(12, 12, 4)
    assert (finer.m, finer.exact, finer(9), finer.later(9)) == (24, True, 27, 27)
    assert (coarser.m, coarser(13), coarser.later(13), coarser(15)) == (4, 4, 5, 5)
    assert not Regrid(13, 12, 4).exact and Regrid(13, 4, 12).exact
    assert (finer.length(32), coarser.length(96)) == (96, 32)


def test_regrid_moves_nothing_recorded():
    history = recorded([Tick(ons=((60, 90),)), Tick((60,), ())])
    history.regrid(Regrid(2, 4, 12))
    history.record(6, Tick(ons=((64, 80),)))  # tick 6 of 12 per quarter: quarter 0.5
    assert history.view() == ([(60, 0.0, 0.25, 90), (64, 0.5, None, 80)], 7 / 12)


@given(sessions())
def test_history_then_ticks_gives_back_exactly_the_recorded_ticks(ticks):
    notes, end = recorded(ticks).view()
    assert end == len(ticks) / TPQ
    assert ticks_between(notes, 0, end, TPQ, sounding_at_a=True) == ticks


@given(sessions(), st.data())
def test_a_catch_up_after_a_window_is_seamless(ticks, data):
    notes, _ = recorded(ticks).view()
    n = len(ticks) + 1  # the last tick is silent
    # The first window is not empty: it is the one that strikes what sounds at a.
    a = data.draw(st.integers(0, n - 1), label="a")
    m = data.draw(st.integers(a + 1, n), label="m")
    whole = ticks_between(notes, a / TPQ, n / TPQ, TPQ, sounding_at_a=True)
    first = ticks_between(notes, a / TPQ, m / TPQ, TPQ, sounding_at_a=True)
    rest = ticks_between(notes, m / TPQ, n / TPQ, TPQ, sounding_at_a=False)
    assert first + rest == whole
    assert len(whole) == n - a


@given(sessions())
def test_to_a_grid_three_times_finer_and_back(ticks):
    notes, end = recorded(ticks).view()
    fine = ticks_between(notes, 0, end, 3 * TPQ, sounding_at_a=True)
    assert len(fine) == 3 * len(ticks)
    assert fine[::3] == ticks
    assert not any(t for i, t in enumerate(fine) if i % 3)
    again, end_fine = recorded(fine, 3 * TPQ).view()
    assert end_fine == end and again == notes
    assert ticks_between(again, 0, end, TPQ, sounding_at_a=True) == ticks


def test_a_note_sounding_at_the_window_start_is_struck_there_when_asked():
    ticks = [Tick(ons=((60, 90), (64, 70))), Tick(), Tick((64,), ()), Tick(), Tick((60,), ())]
    notes, end = recorded(ticks).view()
    heard = ticks_between(notes, 0.25, end, TPQ, sounding_at_a=True)
    assert heard == [Tick((), ((60, 90), (64, 70))), Tick((64,), ()), Tick(), Tick((60,), ())]
    later = ticks_between(notes, 0.75, end, TPQ, sounding_at_a=True)
    assert later == [Tick((), ((60, 90),)), Tick((60,), ())]  # 64 ended at 0.5
    caught_up = ticks_between(notes, 0.25, end, TPQ, sounding_at_a=False)
    assert caught_up == [Tick(), Tick((64,), ()), Tick(), Tick((60,), ())]


def test_a_note_still_open_is_struck_and_never_released():
    notes, end = recorded([Tick(ons=((60, 90),)), Tick(), Tick()]).view()
    assert ticks_between(notes, 0.5, end, TPQ, sounding_at_a=True) == [Tick((), ((60, 90),))]
    assert ticks_between(notes, 0.5, end, TPQ, sounding_at_a=False) == [Tick()]


def test_off_grid_times_strike_at_the_next_line():
    notes = [(60, 0.1, 0.3, 90)]  # on a grid of 4: struck at tick 1, released at tick 2
    assert ticks_between(notes, 0, 0.75, TPQ, sounding_at_a=True) == [
        Tick(),
        Tick((), ((60, 90),)),
        Tick((60,), ()),
    ]
    assert on_grid(0.3, TPQ) == 0.25 and on_grid(0.5, TPQ) == 0.5


class Ear:
    """A fake Player: writes down every tick it is stepped over."""

    def __init__(self) -> None:
        self.heard: list[Tick] = []
        self.numbers: list[int | None] = []  # the tick number each was stepped at

    def step(self, heard: Tick, play: bool, tick: int | None = None) -> None:
        assert not play
        self.heard.append(heard)
        self.numbers.append(tick)


@given(sessions(), st.integers(0, 12), st.sampled_from([2, 4, 12]))
def test_warming_then_catching_up_hears_every_tick_once(ticks, later, tpq):
    """The switcher's prepare and catch_up, with no thread: what the new model hears."""
    history = recorded(ticks, horizon=FOREVER)
    loaded = SimpleNamespace(codec=SimpleNamespace(ticks_per_quarter=tpq))
    switcher = Switcher(history, build=lambda _: Ear())
    prepared = switcher.prepare(loaded)
    n = len(ticks)
    assert prepared.upto == on_grid(n / TPQ, tpq)
    for k in range(n, n + later):  # the session goes on while the model warms
        history.record(k, Tick())
    now = on_grid((n + later) / TPQ, tpq)
    catch_up(prepared, history, now)
    assert prepared.upto == now
    notes, _ = history.view()
    assert prepared.player.heard == ticks_between(notes, 0, now, tpq, sounding_at_a=True)
    # Numbered as the session counts them on the new grid: a metric model's bar follows.
    assert prepared.player.numbers == list(range(len(prepared.player.heard)))
