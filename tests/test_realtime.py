"""The tick thread's priority (livegen/realtime.py): the harmonize table gives it up.

Run in a thread of its own, so the test runner's thread keeps its scheduling policy.
"""

from __future__ import annotations

import os
import threading

import pytest

from livegen.realtime import normal_priority, try_realtime


def in_thread(fn):
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001  re-raised in the test's thread
            out["error"] = err

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    if "error" in out:
        raise out["error"]
    return out["value"]


def fifo_permitted() -> bool:
    return in_thread(lambda: "SCHED_FIFO" in try_realtime())


def test_the_table_build_runs_at_normal_priority_and_the_tick_thread_gets_fifo_back():
    if not hasattr(os, "sched_setscheduler") or not fifo_permitted():
        pytest.skip("SCHED_FIFO is not permitted here (run as root or with an rtprio limit)")

    def policies():
        try_realtime()
        before = os.sched_getscheduler(0)
        with normal_priority():
            inside = os.sched_getscheduler(0)
        return before, inside, os.sched_getscheduler(0)

    before, inside, after = in_thread(policies)
    assert before == os.SCHED_FIFO
    assert inside == os.SCHED_OTHER, "a long build at SCHED_FIFO starves jackd's clients"
    assert after == os.SCHED_FIFO


def test_a_normal_thread_stays_as_it_is():
    def policies():
        with normal_priority():
            return os.sched_getscheduler(0)

    assert in_thread(policies) == os.SCHED_OTHER
