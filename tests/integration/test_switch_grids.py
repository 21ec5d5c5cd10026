"""The live switch between models of two tick grids, through real JACK ports.

``piano_poly`` ticks on eighth notes (2 per quarter), ``chorale_poly`` and ``folk_melody``
on sixteenths (4). The engine plays in free mode (it sounds on nearly every tick), is
switched to the other grid and back while a peer process on the same private ``jackd -d
dummy`` plays into ``livegen in`` and records ``livegen out``. Checked: every switch lands
on a line both grids share and keeps the beat (no tick lost, every deadline on its beat's
time), the notes sounding when a model takes over end a tick of the new grid later, and
after a stop nothing is left sounding, judged from what the peer received before the
session closed (its final all-off must not be what ends them).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from livegen.controls import Action, Do, SwitchModel
from livegen.live import load_model, open_session
from livegen.live_config import LiveConfig
from tests.integration.events import XRUN_TRIES, hanging, note_events, xruns

pytestmark = pytest.mark.jack

BPM = 120.0
BEAT = 60.0 / BPM  # seconds per quarter
CALL = "60:0:0.5,64:0.5:0.5,67:1:0.5,72:1.5:1"  # on the eighth-note grid: both grids hear it
# The peer plays the call, then records on until the test quits it (or 30 s).
PEER_ARGS = ("--send-to", "livegen in", "--record-from", "livegen out", "--notes", CALL)
PEER_ARGS += ("--hold", "--duration", "30")
GRID = {"piano_poly": 2, "chorale_poly": 4, "folk_melody": 4}


def wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_and_wait(engine) -> float:
    """Stop livegen; when the stop has been applied and every note it ended is off."""
    seq = engine.submit(Do(Action.STOP))

    def stopped():
        snap = engine.snapshot()
        return snap.applied >= seq and not snap.open_notes

    wait_for(stopped, 5, "the stop to end every note")
    return time.perf_counter()


class Ticks:
    """Wraps ``engine.tick``: per tick, the beat and deadline it started at, and the model."""

    def __init__(self, engine, before=None) -> None:
        # beat, deadline, start, tpq, model
        self.rows: list[tuple[float, float, float, int, str]] = []
        inner = engine.tick

        def tick(inbox):
            n, tpq, start = engine.n, engine.tpq, time.perf_counter()
            deadline = engine.clock.deadline(n)
            if before is not None:  # in the engine's thread, just before tick n
                before(n)
            inner(inbox)
            self.rows.append((n / tpq, deadline, start, tpq, engine.loaded.path.stem))

        engine.tick = tick  # the loop calls self.tick: the instance attribute wins

    def switches(self) -> list[int]:
        """Indices of the rows at which another model played its first tick."""
        models = [r[4] for r in self.rows]
        return [i for i in range(1, len(models)) if models[i] != models[i - 1]]


def assert_beat_kept_and_notes_handed_over(
    log: Ticks, switches: list[int], report, quiet: float
) -> int:
    """The checks every switch across grids must pass; returns how many notes it handed over.

    The beat goes on: each tick is one line of the grid it ran on after the last, every
    deadline is its beat's time, and a switch lands on an eighth-note line (both grids').
    The old model's notes, sounding when the new one took over (row i), end by the new
    grid's next tick; the old plan for row i sounds at it, and the new model heard that as
    its own, so only what sounded before row i counts. Nothing is left sounding at all,
    and nothing strikes after ``quiet`` (when the stop had ended every note).
    """
    rows = log.rows
    beats = np.array([r[0] for r in rows])
    deadlines = np.array([r[1] for r in rows])
    grids = [r[3] for r in rows]
    steps = np.diff(beats)
    want = np.array([1 / grids[i - 1 if i in switches else i] for i in range(1, len(rows))])
    bad = [(i, s, w) for i, (s, w) in enumerate(zip(steps, want, strict=True)) if abs(s - w) > 1e-9]
    assert not bad, bad
    assert np.allclose(deadlines - deadlines[0], (beats - beats[0]) * BEAT, atol=1e-6)
    for i in switches:
        assert (beats[i] * 2) % 1 == 0, f"switch at beat {beats[i]}: off the eighth-note grid"

    got = note_events(report["received"])
    assert sum(kind == "on" for _, kind, _, _ in got) >= 8, f"too few notes to judge: {got}"
    handed = 0
    for i in switches:
        k = deadlines[i]
        sounding = hanging(e for e in got if e[0] < k)
        handed += len(sounding)
        # Sent as tick i + 1 begins (on time, or as late as it ran on a busy machine), and
        # delivered within a JACK cycle or two: a quarter of a new-grid tick is ample.
        nxt = max(deadlines[i + 1], rows[i + 1][2]) + 0.25 * BEAT / grids[i + 1]
        released = {(ch, pitch) for t, kind, pitch, ch in got if kind == "off" and k < t <= nxt}
        assert sounding <= released, (rows[i][4], sounding, released)
    assert handed, "no note sounded at any switch: the test judged no hand-over"
    assert hanging(got) == set(), hanging(got)
    late = [e for e in got if e[1] == "on" and e[0] > quiet + 0.02]  # a JACK cycle or two
    assert not late, f"struck after the stop: {late}"
    return handed


@pytest.fixture
def thread_errors(monkeypatch):
    caught: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", caught.append)
    return caught


def switch_there_and_back(peer, first: str, other: str):
    """``first`` plays, ``other`` takes over, then ``first`` again; the stop ends it all."""
    cfg = LiveConfig(backend="jack", device="cpu", seed=3, mode="free", bpm=BPM, checkpoint=first)
    session = open_session(cfg)
    engine = session.engine
    log = Ticks(engine)
    try:
        p = peer(*PEER_ARGS)
        engine.start()
        wait_for(lambda: engine.snapshot().open_notes, 10, f"{first} to sound")
        for target in (other, first):
            engine.submit(SwitchModel(target))
            wait_for(lambda t=target: engine.snapshot().model == t, 10, f"the switch to {target}")
            snap = engine.snapshot()
            assert snap.ticks_per_quarter == GRID[target], snap
            time.sleep(1.5)  # three beats of the new model
        quiet = stop_and_wait(engine)
        time.sleep(BEAT)  # a quarter of quiet: nothing more may strike
        report = p.quit()  # before close: the notes must end without the final all-off
    finally:
        session.close()
    return engine, log, report, quiet


@pytest.mark.parametrize(
    ("first", "other"), [("piano_poly", "chorale_poly"), ("folk_melody", "piano_poly")]
)
def test_a_switch_to_another_grid_and_back_keeps_the_beat_and_ends_every_note(
    jack_server, peer, thread_errors, first, other
):
    for _ in range(XRUN_TRIES):  # a cycle jackd dropped voids the run (events.xruns)
        before = xruns(jack_server)
        engine, log, report, quiet = switch_there_and_back(peer, first, other)
        if xruns(jack_server) == before:
            break
    snap = engine.snapshot()
    assert engine.error is None and not thread_errors, (engine.error, thread_errors)
    assert not [n for n in snap.notices if "cannot switch" in n], snap.notices

    switches = log.switches()
    assert [log.rows[i][4] for i in switches] == [other, first], [r[4] for r in log.rows[::20]]
    handed = assert_beat_kept_and_notes_handed_over(log, switches, report, quiet)
    assert snap.open_notes == ()
    beats = [float(log.rows[i][0]) for i in switches]
    print(
        f"\n{first} -> {other} -> {first}: switches at beats {beats}, {handed} notes handed "
        f"over, late ticks {snap.late_ticks}"
    )


def test_a_model_ready_between_the_eighths_waits_for_the_next_one(jack_server, peer, thread_errors):
    """piano_poly, warmed and handed in at an odd sixteenth of chorale_poly's session,
    takes over one tick later, on the eighth, with the beat kept and nothing left sounding."""
    cfg = LiveConfig(
        backend="jack", device="cpu", seed=5, mode="free", bpm=BPM, checkpoint="chorale_poly"
    )
    session = open_session(cfg)
    engine = session.engine
    prepared, handed_in = [], []

    def before(n):
        # An odd tick of the 16th grid (no eighth-note line) with notes sounding that tick n
        # does not end (nothing is due at it), so they still sound when the switch lands.
        sched = engine.scheduler
        quiet = sched.next_tick() is None or sched.next_tick() > n
        if prepared and not handed_in and n % 2 == 1 and sched.open_notes() and quiet:
            handed_in.append(n / engine.tpq)
            engine.switcher.put_back(prepared.pop())

    log = Ticks(engine, before)
    try:
        p = peer(*PEER_ARGS)
        engine.start()
        wait_for(lambda: engine.snapshot().open_notes, 10, "chorale_poly to sound")
        time.sleep(1.0)
        # Warmed here, on the session's history so far; the engine catches it up when it
        # takes over (switch.catch_up), as it does a model the worker warmed.
        prepared.append(engine.switcher.prepare(load_model("piano_poly")))
        wait_for(lambda: engine.snapshot().model == "piano_poly", 10, "the switch to piano_poly")
        time.sleep(1.0)
        quiet = stop_and_wait(engine)
        time.sleep(BEAT)
        report = p.quit()
    finally:
        session.close()
    snap = engine.snapshot()
    assert engine.error is None and not thread_errors, (engine.error, thread_errors)
    switches = log.switches()
    assert len(switches) == 1 and handed_in, (switches, handed_in)
    beat = log.rows[switches[0]][0]
    assert beat == handed_in[0] + 0.25, (handed_in, beat)  # the next 16th: an eighth
    handed = assert_beat_kept_and_notes_handed_over(log, switches, report, quiet)
    assert snap.open_notes == () and snap.ticks_per_quarter == 2
    print(f"\nready at beat {handed_in[0]}, took over at {beat}; {handed} notes handed over")
