"""The harmonize table built off the tick thread, and the next tick's tables built ahead.

A table for chorale_harmony (37 rows, 2 x 256) is about 7 batched steps of the model: 6-8
ms on a quiet core, 20-40 ms on a loaded one (BENCHMARKS.md). On the tick thread that
long a build kept every input waiting, pass-through too. Here a thread of its own builds
it, at normal priority (``realtime.normal_priority``: a build at SCHED_FIFO starved jackd's
clients), while the tick thread goes back to its input at once; GEMMs release the GIL and
the tick thread takes it back within the switch interval (0.5 ms, realtime.py).

The table for tick n is planned from the player's state after tick n - 1 (a
:class:`~livegen.harmonize.Job` copies it on the tick thread), so a note-on that arrives
before it is built has no answer yet: the voice step keeps the note and sends its harmony
the moment the table is ready (counted as ``waited``), or, when tick n comes first, tick n
answers it by its own step (``unanswered``).

Most ticks you strike nothing: you hold your note, release it, or stay silent. So right
after a table is built, the worker builds the *next* tick's table from each of its quiet
rows (:meth:`Table.quiet_rows`, :meth:`Table.ahead`): if tick n adopts one of them, the
table for n + 1 was planned from exactly the state, stream and releases the player has
after n (``Table.valid_for`` compares the stream by identity: it is the row's own) and it
is used at once (``reused``), unless a control changed the draws since
(``Table.sampled_as_now``). When you strike, the row sent between the ticks is the one
the tick adopts (:meth:`TableWorker.fired`): the table after that row is built at once,
ahead of the quiet rows' (given up: you struck), so the tick after a note-on usually finds
its table built too. Each build draws from a child of the player's sampler, made when its
job is made, so no draw is shared between threads; a build a tick or a note-on made
useless is given up within one batched step.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import torch

from livegen.harmonize import Job, Planner, Table
from livegen.parts_player import PartsPlayer
from livegen.realtime import StepTimes, normal_priority


class TableWorker:
    """One player's tables, built on a thread started here and stopped by :meth:`close`."""

    def __init__(self, player: PartsPlayer) -> None:
        self.player = player
        self.table: Table | None = None  # the table for the next tick, once built
        self.error: BaseException | None = None  # a build failed: raised on the tick thread
        self.builds = StepTimes()  # how long one build takes (every build, ahead or not)
        self.built = 0  # tables built for the tick they were asked for
        self.reused = 0  # tables built ahead and used
        self._cond = threading.Condition()
        self._serial = 0  # bumped by every plan: work of an older serial is dropped
        self._todo: deque[tuple[int, Job, bool]] = deque()  # (serial, job, ahead?)
        self._ahead: list[Table] = []  # next tick's tables, from the current one's quiet rows
        self._closed = False
        self._asked: int | None = None  # the tick of the last table asked for
        self._cut = 0  # bumped when the build in progress is no longer wanted
        self._running: Job | None = None  # the job being built
        self._promoted: Job | None = None  # that job, asked for as the next tick's table
        self._thread = threading.Thread(target=self._run, name="livegen-table", daemon=True)
        self._thread.start()

    # ---- the tick thread -----------------------------------------------------------------
    def plan(self, tick: int) -> Table | None:
        """After tick - 1: the table for ``tick``, if one built ahead holds (or is being
        built); else it is built now, off this thread, and :meth:`ready` has it once done."""
        if self.error is not None:
            raise self.error
        player = self.player
        with self._cond:
            self._serial += 1
            self._asked = tick
            ahead, self._ahead = self._ahead, []
            for table in ahead:
                if table.valid_for(player, tick) and table.sampled_as_now():
                    self.table = table
                    self.reused += 1
                    self._restart([(job, True) for job in table.next_jobs])
                    return table
            self.table = None
            running = self._running
            if running is not None and running.fits(player, tick):
                # The build going on is for the very row tick - 1 adopted: it is this
                # tick's table once done (the quiet rows' waiting after it are dropped).
                self._promoted = running
                self._todo.clear()
                return None
            queued = [job for _, job, _ in self._todo if job.fits(player, tick)]
            job = queued[0] if queued else Job.of(player, tick, player.sampler.child())
            self._restart([(job, False)])
            return None

    def _restart(self, jobs: list[tuple[Job, bool]]) -> None:
        """Drop the build going on and the queue; ``jobs`` next (holding the lock)."""
        self._cut += 1
        self._promoted = None
        self._todo.clear()
        self._todo.extend((self._serial, job, ahead) for job, ahead in jobs)
        self._cond.notify()

    def fired(self, table: Table, b: int) -> None:
        """Row ``b`` of the current table was sent (a note-on): its tick will adopt it, so
        the table after it is built first, and the quiet rows' (now unlikely) are dropped."""
        job = table.ahead(b, table.job.sampler.child())  # the row is not adopted yet
        with self._cond:
            if table is not self.table or self._closed:
                return
            self._restart([(job, True)])

    def taken(self) -> None:
        """The tick came (its step used the table, or stepped without it): the table is
        spent, and a build for it still going is dropped; the builds ahead go on."""
        with self._cond:
            if self.table is None and self._asked is not None:
                self._serial += 1
                self._restart([])
            self.table, self._asked = None, None

    def ready(self, tick: int) -> Table | None:
        """The table for ``tick`` if it is built (None while it is being built)."""
        table = self.table
        return table if table is not None and table.tick == tick else None

    def building(self, tick: int) -> bool:
        """Whether the table for ``tick`` was asked for and is not built yet."""
        return self._asked == tick and self.ready(tick) is None

    def wait(self, tick: int, timeout: float) -> Table | None:
        """Block until the table for ``tick`` is built (tests; the engine never waits)."""
        with self._cond:
            self._cond.wait_for(lambda: self.ready(tick) or self.error, timeout)
        if self.error is not None:
            raise self.error
        return self.ready(tick)

    def close(self, wait: bool = True) -> None:
        """Stop the thread; ``wait`` for it (not at a model switch: a build in progress
        would hold the tick up, and its table is dropped anyway)."""
        with self._cond:
            self._closed = True
            self._todo.clear()
            self._cond.notify_all()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(5.0)

    # ---- the worker thread ---------------------------------------------------------------
    def _run(self) -> None:
        with normal_priority(), torch.inference_mode():
            try:
                planner = Planner(self.player)  # its weights and buffers: this thread's own
                while (work := self._next()) is not None:
                    self._build(planner, *work)
            except BaseException as err:  # the tick thread raises it (session ends, notes off)
                with self._cond:
                    self.error = err
                    self._cond.notify_all()

    def _next(self) -> tuple[int, int, Job, bool] | None:
        with self._cond:
            self._running = None
            self._cond.wait_for(lambda: self._todo or self._closed)
            if self._closed:
                return None
            serial, job, ahead = self._todo.popleft()
            self._running = job
            self._cond.notify_all()  # for whoever waits on what is being built (tests)
            return self._cut, serial, job, ahead

    def _build(self, planner: Planner, cut: int, serial: int, job: Job, ahead: bool) -> None:
        t0 = time.perf_counter()
        table = planner.build(job, lambda: self._cut == cut)
        if table is None:
            return  # given up: a tick or a note-on made it useless
        # The jobs ahead copy the rows' streams now, before the tick thread can adopt one.
        table.next_jobs = [table.ahead(b, job.sampler.child()) for b in table.quiet_rows()]
        self.builds.add(time.perf_counter() - t0, job.tick)
        with self._cond:
            promoted = job is self._promoted
            if promoted:  # built ahead, asked for while it was being built
                self._promoted = None
                self.reused += 1
            elif serial != self._serial or self._closed:
                return  # a tick came and planned afresh: this one is stale
            elif ahead:
                self._ahead.append(table)
            else:
                self.built += 1
            if promoted or not ahead:
                self.table = table
                self._todo.extend((self._serial, j, True) for j in table.next_jobs)
            self._cond.notify_all()
