"""What the tick thread asks of the OS and the interpreter: priority, GIL hand-over, no GC.

- Scheduling: SCHED_FIFO where the OS permits it (Linux with an rtprio limit, or root).
- The GIL's switch interval: another thread holding the GIL (loading a checkpoint, a
  switch warming) would make the tick wait up to Python's 5 ms default: 12 of 40 ticks
  were late while models loaded beside it, 2 at 0.5 ms.
- The garbage collector: a full collection walks every object torch and the model made
  (~170k), 160-190 ms holding the GIL on a busy 2-core machine, more than a tick, and an
  input flood triggers one. Objects alive after priming are frozen, never walked again.

:class:`Realtime` sets all three for a session and restores them after.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections import deque

import numpy as np
import numpy.ma  # noqa: F401  np.percentile imports it on first use: not in the first tick

SWITCH_INTERVAL = 0.0005  # the GIL's hand-over time while a session runs (Python's: 5 ms)


def try_realtime(priority: int = 10) -> str:
    """Put the calling thread on SCHED_FIFO where the OS allows it; says what happened."""
    if not hasattr(os, "sched_setscheduler"):
        return "real-time scheduling: not available on this OS (normal priority)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as err:
        return (
            f"real-time scheduling not permitted ({err.strerror or err}): normal priority; "
            "allow it with an rtprio limit (e.g. the 'audio' group) for tighter timing"
        )
    return f"real-time scheduling: SCHED_FIFO priority {priority} for the tick thread"


@contextlib.contextmanager
def normal_priority():
    """Run a long stretch of the tick thread's work (the harmonize table) at normal priority.

    A SCHED_FIFO thread computing for tens of milliseconds keeps every normal thread queued
    on its core off it until the kernel migrates them. JACK's client threads are normal
    threads when jackd runs without real-time (``--no-realtime``, or a desktop session not
    allowed it; the tests' private server is real-time where permitted, livegen/jack.py):
    one 20-50 ms table build made jackd report its clients "not finished" and drop a
    cycle's MIDI, note-offs included. The tick's own output has left
    by then, so the build gives up its priority and takes it back after.
    """
    try:
        if os.sched_getscheduler(0) != os.SCHED_FIFO:
            yield
            return
        param = os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):  # no such call here, or not permitted: as it was
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_FIFO, param)


class StepTimes:
    """The model step's latency over the last ``keep`` ticks, as p50/p99 in microseconds.

    The percentiles are worked out every ``every`` ticks, not every tick: they are for
    the panel, and a sort of 512 floats is not free on the tick path.
    """

    def __init__(self, keep: int = 512, every: int = 8) -> None:
        self._times: deque[float] = deque(maxlen=keep)
        self.every = every
        self.p50 = self.p99 = 0.0

    def add(self, seconds: float, n: int) -> None:
        self._times.append(seconds)
        if n % self.every == 0:
            p = np.percentile(np.fromiter(self._times, float), [50, 99]) * 1e6
            self.p50, self.p99 = float(p[0]), float(p[1])


class Realtime:
    """Enter in the tick thread before the loop, exit after it (restores what it changed)."""

    def __init__(self, fifo: bool = True) -> None:
        self.fifo = fifo
        self._interval: float | None = None
        self.notice: str | None = None

    def __enter__(self) -> Realtime:
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
        if self.fifo:
            self.notice = try_realtime()
        return self

    def primed(self) -> None:
        """The session's long-lived objects exist now: keep the collector off them."""
        gc.collect()
        gc.freeze()

    def __exit__(self, *exc) -> None:
        if self._interval is not None:
            sys.setswitchinterval(self._interval)
        gc.unfreeze()
