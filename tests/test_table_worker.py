"""The harmonize table built in a worker thread: the same table as on the tick thread, the
next tick's used when it still holds, a note-on before its table answered once it is built
(or by its tick), every note ended. The tiny random-weight model of the chorale_harmony
shape, in the engine on a manual clock against fake ports (tests/fakes.py)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

from livegen.harmonize import Job, Planner
from livegen.table_worker import TableWorker
from tests.codecs.shapes import HARMONY
from tests.fakes import sounding
from tests.test_engine import note_ons, off, on
from tests.test_harmonize import same_table, warmed
from tests.test_voice_step import between, make, play, tick

WAIT = 30.0  # seconds a test waits for a build (a loaded machine); never reached when right


@contextlib.contextmanager
def first_table(seed: int, gate: threading.Event | None = None) -> Iterator[tuple]:
    """(player, worker, n, tick n's table) of a warmed session with its own worker, closed
    after; ``gate`` is set first, so a build still waiting on it cannot hold the close."""
    player = warmed(seed=seed)
    worker = TableWorker(player)
    try:
        n = player.ticks
        worker.plan(n)
        yield player, worker, n, worker.wait(n, WAIT)
    finally:
        if gate is not None:
            gate.set()
        worker.close()


def wait_for_both_ahead(worker: TableWorker) -> None:
    """Until the tables after both quiet rows (your note held, released) are built."""
    with worker._cond:
        assert worker._cond.wait_for(lambda: len(worker._ahead) == 2, WAIT)


def test_the_workers_table_is_the_one_built_on_the_calling_thread():
    player, twin = warmed(seed=5), warmed(seed=5)  # one session twice (seeded)
    worker = TableWorker(player)
    try:
        n = player.ticks
        assert worker.plan(n) is None and worker.building(n)
        built = worker.wait(n, WAIT)
        with torch.inference_mode():
            here = Planner(twin).build(Job.of(twin, n, twin.sampler.child()))
        assert built is not None and same_table(built, here, exact=True)
        assert worker.built == 1 and not worker.building(n)
    finally:
        worker.close()
    assert not worker._thread.is_alive()


def test_the_table_ahead_is_used_when_its_row_became_the_tick():
    with first_table(4) as (_, worker, n, table):
        b = table.quiet_rows()[0]  # your note held
        with torch.inference_mode():
            table.adopt(b, table.rows[b].yours)
        wait_for_both_ahead(worker)
        ahead = worker.plan(n + 1)
        assert ahead is not None and worker.reused == 1 and ahead.base is table.rows[b].stream
        assert worker.ready(n + 1) is ahead


def test_the_table_after_a_row_sent_between_ticks_is_built_first_and_used():
    with first_table(4) as (_, worker, n, table):
        b = 69 - HARMONY.your_part.low  # you struck 69: its harmony went out from row b
        worker.fired(table, b)
        with worker._cond:
            assert worker._cond.wait_for(lambda: worker._ahead, WAIT)
        with torch.inference_mode():
            table.adopt(b, table.rows[b].yours)  # tick n, as the engine adopts a fired row
        ahead = worker.plan(n + 1)
        assert ahead is not None and ahead.base is table.rows[b].stream and worker.reused == 1


def test_a_table_ahead_still_being_built_when_its_tick_asks_is_that_ticks_table(monkeypatch):
    gate = gated(monkeypatch)
    gate.set()
    with first_table(4, gate) as (_, worker, n, table):
        wait_for_both_ahead(worker)  # the quiet rows' tables built: the worker is idle
        gate.clear()
        b = 69 - HARMONY.your_part.low
        worker.fired(table, b)  # its build starts, and waits for the gate
        row = table.rows[b]
        with torch.inference_mode():
            table.adopt(b, row.yours)
        with worker._cond:
            running = lambda: worker._running is not None and worker._running.base is row.stream  # noqa: E731
            assert worker._cond.wait_for(running, WAIT)
        assert worker.plan(n + 1) is None and worker.building(n + 1)  # not restarted: kept
        gate.set()
        built = worker.wait(n + 1, WAIT)
        assert built is not None and built.base is table.rows[b].stream
        assert worker.reused == 1 and worker.built == 1


def test_a_table_ahead_is_not_used_after_a_control_changed_the_draws():
    with first_table(4) as (player, worker, n, table):
        b = table.quiet_rows()[0]
        with torch.inference_mode():
            table.adopt(b, table.rows[b].yours)
        wait_for_both_ahead(worker)
        player.sampler.temperature = 0.4
        assert worker.plan(n + 1) is None and worker.reused == 0  # built afresh instead
        assert worker.wait(n + 1, WAIT).job.sampler.temperature == 0.4


def test_a_build_that_fails_is_raised_on_the_tick_thread(monkeypatch):
    def failing(planner, job, *going):
        raise RuntimeError("boom")

    monkeypatch.setattr(Planner, "build", failing)
    player = warmed()
    worker = TableWorker(player)
    try:
        worker.plan(player.ticks)
        try:
            worker.wait(player.ticks, WAIT)
        except RuntimeError as err:
            assert "boom" in str(err)
        else:
            raise AssertionError("the failure was not raised")
    finally:
        worker.close()


def test_the_worker_builds_at_normal_priority(monkeypatch):
    import contextlib

    import livegen.table_worker as table_worker

    threads: list[str] = []

    @contextlib.contextmanager
    def normal():
        threads.append(threading.current_thread().name)
        yield

    monkeypatch.setattr(table_worker, "normal_priority", normal)
    worker = TableWorker(warmed())
    worker.close()
    assert threads == ["livegen-table"]


# ---- in the engine ---------------------------------------------------------------------
def gated(monkeypatch):
    """Builds wait for ``gate`` (set it to let them finish)."""
    gate = threading.Event()
    real = Planner.build

    def build(planner, job, *going):
        assert gate.wait(WAIT)
        return real(planner, job, *going)

    monkeypatch.setattr(Planner, "build", build)
    return gate


def background(seed: int = 2):
    engine, ports = make(seed=seed)
    engine.voice_step.background = True  # as the engine's own loop does
    return engine, ports


def strike_with_no_table_ahead(monkeypatch):
    """An engine that struck 74 at tick 4 from its table: tick 5's table is being built (a
    strike is no quiet row, so none ahead holds), and no build finishes until ``gate``."""
    gate = gated(monkeypatch)
    gate.set()
    engine, ports = background()
    play(engine, ports, 4)  # the melody's first note (72) at tick 0, held
    worker = engine.voice_step.worker
    assert worker.wait(4, WAIT) is not None
    gate.clear()
    assert note_ons(between(engine, ports, [off(72), on(74)])), "answered from tick 4's table"
    tick(engine, ports)
    assert engine.n == 5 and worker.building(5)
    return engine, ports, gate, worker


def test_in_the_engine_a_note_on_before_its_table_is_answered_once_it_is_built(monkeypatch):
    engine, ports, gate, worker = strike_with_no_table_ahead(monkeypatch)
    early = between(engine, ports, [off(74), on(76)])
    assert not note_ons(early) and len(engine.voice_step.waiting) == 1  # no table yet
    gate.set()
    assert worker.wait(5, WAIT) is not None
    later = between(engine, ports, [])  # the next pass between ticks
    row = engine.voice_step.table.rows[76 - HARMONY.your_part.low]
    assert {m.note for m in note_ons(later)} == {p for p, _ in row.mine.ons}
    assert engine.voice_step.waited == 1 and engine.voice_step.answered == 2
    tick(engine, ports)
    assert engine.player.stream.yours == {76}
    engine.shutdown()
    assert sounding(ports.sent) == set()
    assert any("2 note-ons answered" in t and "1 after waiting" in t
               for t in engine.snapshot().notices)  # fmt: skip


def test_in_the_engine_a_note_on_whose_table_comes_after_its_tick_is_answered_by_it(
    monkeypatch,
):
    engine, ports, gate, worker = strike_with_no_table_ahead(monkeypatch)
    assert not note_ons(between(engine, ports, [off(74), on(76)]))
    tick(engine, ports)  # the table never came: the tick steps and answers
    assert engine.voice_step.unanswered == 1 and engine.voice_step.waiting == []
    assert engine.player.stream.yours == {76}
    assert {p for _, p in sounding(ports.sent)} == engine.player.sounding
    gate.set()
    for _ in range(12):  # you stopped: livegen's notes end after the silence
        between(engine, ports, [off(76)])
        tick(engine, ports)
    engine.shutdown()
    assert sounding(ports.sent) == set()
    assert not worker._thread.is_alive()


def test_a_table_built_after_its_tick_is_dropped_even_if_the_count_comes_back(monkeypatch):
    """Tick 5 stepped without its table (in place, on the stream the table was planned
    from): when that build ends, a song position jump back to 5 must not find it."""
    engine, ports, gate, worker = strike_with_no_table_ahead(monkeypatch)
    tick(engine, ports)  # tick 5: no table yet, stepped
    gate.set()
    assert worker.wait(5, 2.0) is None  # the build finished, and was dropped
    engine.n = 5  # as a jump back would
    assert not note_ons(between(engine, ports, [off(74), on(76)]))
    engine.shutdown()
    assert sounding(ports.sent) == set()
