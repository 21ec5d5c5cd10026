"""The live engine on a real JACK server, played by a separate peer process.

The engine runs in this process (so its snapshot, clock and tick log can be read);
the peer (``midi_peer.py``) is another process on the same private ``jackd -d dummy``,
so every note crosses JACK as it would from a DAW. Times on both sides are
``perf_counter`` (CLOCK_MONOTONIC, shared by processes on Linux).
"""

from __future__ import annotations

import collections
import inspect
import json
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from livegen.controls import Action, Do, SwitchModel
from livegen.jack import start_dummy_jack
from livegen.live import open_session
from livegen.live_config import LiveConfig
from tests.integration.events import XrunWatch, hanging, note_events

pytestmark = pytest.mark.jack

ROOT = Path(__file__).resolve().parents[2]

_JACK = inspect.signature(start_dummy_jack).parameters
JACK_PERIOD = _JACK["period"].default / _JACK["rate"].default  # the fixture's server: 5.3 ms
TOLERANCE = JACK_PERIOD + 0.001  # the requirement for output on the grid
TPQ = 4  # both shipped models tick four times per quarter
CALL = "60:0:0.5,62:0.5:0.5,64:1:0.5,65:1.5:0.5,67:2:1"  # 3 quarters, ends on a held note


def period(bpm: float) -> float:
    return 60.0 / (bpm * TPQ)


# ---- helpers ---------------------------------------------------------------------------------
def sounding_at(events, t: float) -> set[tuple[int, int]]:
    return hanging(e for e in events if e[0] <= t)


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def ms(x: float) -> str:
    return f"{x * 1000:.2f} ms"


class TickLog:
    """Wraps ``engine.tick``: ``(n, start, end)`` in perf_counter seconds, the model after it.

    ``before(n)``, if given, runs in the engine's thread just before tick ``n`` (a control
    called there is applied in that very tick).
    """

    def __init__(self, engine, before=None) -> None:
        self.rows: list[tuple[int, float, float]] = []
        self.models: list[str] = []
        self.before = before
        inner = engine.tick

        def tick(inbox, _now=time.perf_counter):
            n, start = engine.n, _now()
            if self.before is not None:
                self.before(n)
            inner(inbox)
            self.rows.append((n, start, _now()))
            self.models.append(engine.loaded.path.stem)

        engine.tick = tick  # the loop calls self.tick: the instance attribute wins

    def numbers(self) -> list[int]:
        return [n for n, *_ in self.rows]

    def late(self, clock) -> list[float]:
        """How late each tick started against ``clock``'s deadlines (internal clock)."""
        return [start - clock.deadline(n) for n, start, _ in self.rows]

    def slowest(self, k: int = 3) -> list[tuple[int, str]]:
        rows = sorted(self.rows, key=lambda r: r[1] - r[2])[:k]
        return [(n, ms(end - start)) for n, start, end in rows]

    def assert_no_gap(self) -> None:
        ns = self.numbers()
        assert ns, "no tick ran"
        assert ns == list(range(ns[0], ns[0] + len(ns))), (
            f"ticks skipped: {_gaps(ns)}; slowest ticks {self.slowest()}"
        )


def _gaps(ns: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in zip(ns[:-1], ns[1:], strict=True) if b != a + 1]


def assert_few_late(snap) -> None:
    """Late ticks (> 2 ms, or skipped) are rare: a busy 2-core machine makes a few."""
    assert snap.late_ticks <= max(2, (snap.tick + 1) // 10), (snap.late_ticks, snap.tick + 1)


def wait_for(pred, timeout: float, what: str, step: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def session(jack_server):
    """``session(**LiveConfig fields)``: an engine on the module's JACK server; closed after."""
    opened = []

    def make(**overrides):
        fields = dict(backend="jack", device="cpu", seed=7, silence_ticks=4, response_bars=1)
        fields.update(overrides)
        s = open_session(LiveConfig(**fields))
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def thread_errors(monkeypatch):
    """Exceptions that escaped any thread (the engine's, the switch helper's...)."""
    caught: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", caught.append)
    return caught


# ---- 1, 3: call and response ------------------------------------------------------------------
def test_continue_answers_after_the_call_and_ends_every_note(
    session, peer, thread_errors, jack_server
):
    s = session(mode="continue", bpm=120, silence_ticks=4, response_bars=1)
    engine = s.engine
    engine.start()
    p = peer("--send-to", "livegen in", "--record-from", "livegen out", "--notes", CALL, "--hold")
    P = period(120)
    phases = []

    def answered():
        snap = engine.snapshot()
        if not phases or phases[-1] != snap.phase:
            phases.append(snap.phase)
        return "answering" in phases and snap.phase == "listening"

    wait_for(answered, 12, "the answer to end")
    snap = engine.snapshot()
    engine.close()
    report = p.quit()
    assert engine.error is None and not thread_errors

    sent = note_events(report["sent"])
    got = note_events(report["received"])
    ons = [e for e in got if e[1] == "on"]
    assert ons, f"no answer arrived; phases {phases}, notices {snap.notices}"
    call_end = max(t for t, kind, _, _ in sent if kind == "off")
    # It answers only after silence_ticks (4) of quiet: the release is heard at the first tick
    # after it arrives, and the answer starts four ticks later.
    assert ons[0][0] >= call_end + 4 * P - 0.001, (ons[0][0] - call_end, P)
    assert ons[0][0] < call_end + 12 * P  # and does not wait much longer than that
    # One bar of answer: 16 ticks from its first tick (which may be a rest).
    assert ons[-1][0] - ons[0][0] <= 16 * P + TOLERANCE
    assert all(48 <= pitch <= 84 and ch == 0 for _, _, pitch, ch in got)
    # What arrived is what the engine says it played.
    out_spans = [sp for sp in snap.recent if sp.source == "out"]
    arrived, played = [pitch for _, _, pitch, _ in ons], [sp.pitch for sp in out_spans]
    if arrived != played:
        # Seen once in a CI run under load: the first note missing at the peer. Only a JACK
        # overload (an xrun in the server's log) may excuse that, and only for one note.
        xruns = jack_server.log().lower().count("xrun")
        it = iter(played)
        assert all(p in it for p in arrived) and len(played) - len(arrived) <= 1, (arrived, played)
        assert xruns > 0, f"a note livegen played never arrived, with no xrun: {arrived} {played}"
    assert hanging(got) == set()
    assert engine.snapshot().open_notes == ()
    print(
        f"\ncontinue: call ended {call_end - report['t0']:.3f} s, answer "
        f"{ons[0][0] - call_end:.3f} s later, {len(ons)} notes: {[e[2] for e in ons]}"
    )


# ---- 2: output on the tick grid ---------------------------------------------------------------
def test_output_falls_on_the_tick_grid(session, peer, thread_errors):
    bpm = 120
    P = period(bpm)
    s = session(mode="free", bpm=bpm)  # free mode plays on from the shipped primer: many notes
    engine = s.engine
    log = TickLog(engine)
    p = peer("--record-from", "livegen out", "--duration", "30")
    engine.start()
    time.sleep(5.0)
    closing = time.perf_counter()
    snap = engine.snapshot()
    engine.close()
    report = p.quit()
    assert engine.error is None and not thread_errors

    got = note_events(report["received"])
    assert hanging(got) == set()
    on_grid = [e for e in got if e[0] < closing]  # the final all-off is not on the grid
    assert sum(e[1] == "on" for e in on_grid) >= 8, f"too few notes to judge: {on_grid}"
    clock = engine.clock
    times = np.array([t for t, *_ in on_grid])
    # Arrival against the engine's own deadlines: the latency (send + JACK cycle + wake-up).
    latency = times - np.array(
        [clock.deadline(int(k)) for k in np.rint((times - clock.deadline(0)) / P)]
    )
    # Offsets from the tick grid as the peer hears it: the deadlines shifted by the median
    # latency (what a DAW would compensate), and aligned on the first event (its jitter added).
    to_grid = latency - np.median(latency)
    rel = times - times[0]
    to_first = rel - np.rint(rel / P) * P
    late = log.late(clock)
    lines = [
        f"grid at {bpm} BPM ({ms(P)} ticks), {len(on_grid)} note events, JACK period "
        f"{ms(JACK_PERIOD)}",
        "  |offset| from the grid (median latency removed): p50 {} p99 {} max {}".format(
            *map(ms, (pct(abs(to_grid), 50), pct(abs(to_grid), 99), abs(to_grid).max()))
        ),
        "  |offset| from a grid aligned on the first event: p50 {} p99 {} max {}".format(
            *map(ms, (pct(abs(to_first), 50), pct(abs(to_first), 99), abs(to_first).max()))
        ),
        "  arrival - engine deadline: p50 {} p99 {} max {} min {}".format(
            *map(ms, (pct(latency, 50), pct(latency, 99), latency.max(), latency.min()))
        ),
        "  engine tick start - deadline: p50 {} p99 {} max {}".format(
            *map(ms, (pct(late, 50), pct(late, 99), max(late)))
        ),
        f"  step p50 {snap.step_p50_us:.0f} us p99 {snap.step_p99_us:.0f} us, "
        f"late ticks {snap.late_ticks} of {snap.tick + 1}, slowest ticks {log.slowest()}",
        *(f"  {notice}" for notice in snap.notices if "real-time" in notice),
    ]
    print("\n" + "\n".join(lines))
    log.assert_no_gap()
    assert np.abs(to_grid).max() <= TOLERANCE, np.round(to_grid * 1000, 2)
    # Nothing leaves before its deadline, and at most a JACK cycle (and a wake-up) after it.
    assert latency.min() >= 0, np.round(latency * 1000, 2)
    assert latency.max() <= 2 * JACK_PERIOD + 0.001, np.round(latency * 1000, 2)
    assert_few_late(snap)


# ---- 4: model switch and panic mid-answer -----------------------------------------------------
@pytest.fixture(params=["chorale_poly", "folk_melody copy"])
def switch_target(request, tmp_path) -> tuple[str, str]:
    """(what to pass to switch_model, the model's name once switched)."""
    from livegen import checkpoint

    if request.param == "chorale_poly":  # shipped: its absence is a failure, not a skip
        return "chorale_poly", "chorale_poly"
    copy = tmp_path / "folk_copy.pt"
    shutil.copyfile(checkpoint.resolve("folk_melody"), copy)
    return str(copy), "folk_copy"


def test_switch_and_panic_mid_answer_leave_nothing_sounding(
    session, peer, switch_target, thread_errors
):
    target, target_name = switch_target
    bpm = 120
    P = period(bpm)
    s = session(mode="continue", bpm=bpm, silence_ticks=4, response_bars=4)
    engine = s.engine
    panic_armed = threading.Event()
    panicked: list[tuple[int, list]] = []

    def before(n):
        # Panic at a tick that changes nothing on its own, so notes are sure to be sounding.
        sched = engine.scheduler
        quiet = sched.next_tick() is None or sched.next_tick() > n
        if panic_armed.is_set() and not panicked and sched.open_notes() and quiet:
            panicked.append((n, sched.open_notes()))
            engine.submit(Do(Action.PANIC))

    log = TickLog(engine, before)
    engine.start()
    p = peer("--send-to", "livegen in", "--record-from", "livegen out", "--notes", CALL, "--hold")

    def answering_and_sounding():
        snap = engine.snapshot()
        return snap.phase == "answering" and snap.open_notes

    wait_for(answering_and_sounding, 10, "the answer to sound")
    engine.submit(SwitchModel(target))
    wait_for(lambda: engine.snapshot().model == target_name, 8, f"the switch to {target_name}")
    time.sleep(3 * P)
    assert engine.snapshot().phase == "answering", engine.snapshot().notices
    panic_armed.set()
    wait_for(lambda: "panic: all notes off" in engine.snapshot().notices, 6, "the panic")
    snap = engine.snapshot()
    assert snap.open_notes == () and snap.phase == "listening", snap
    time.sleep(4 * P)  # no input: nothing more may sound
    assert engine.snapshot().open_notes == ()
    report = p.quit()  # before close: the offs must not come from the final all-off
    engine.close()
    snap = engine.snapshot()
    assert engine.error is None and not thread_errors, (engine.error, thread_errors)

    got = note_events(report["received"])
    clock = engine.clock
    # The switch: the old model's notes sounding when the new one took over (tick k) are
    # released at tick k + 1 at the latest.
    k = log.rows[log.models.index(target_name)][0]
    old = sounding_at(got, clock.deadline(k) + P / 2)
    released = {
        (ch, pitch)
        for t, kind, pitch, ch in got
        if kind == "off" and clock.deadline(k) < t <= clock.deadline(k + 1) + P / 2
    }
    assert old <= released, (old, released)
    # The panic: everything open at tick m ends, CC 123 and 120 go to all 16 channels, and
    # nothing is struck afterwards.
    m, open_at_panic = panicked[0]
    ccs = [(t, msg) for t, msg in report["received"] if msg[0] & 0xF0 == 0xB0]
    assert sorted((msg[0] & 0x0F, msg[1]) for _, msg in ccs) == sorted(
        (ch, cc) for ch in range(16) for cc in (123, 120)
    )
    t_panic = min(t for t, _ in ccs)
    assert set(open_at_panic) <= sounding_at(got, clock.deadline(m) - 0.001)
    assert sounding_at(got, t_panic) == set()
    assert not [e for e in got if e[1] == "on" and e[0] > t_panic]
    assert hanging(got) == set()
    log.assert_no_gap()
    assert_few_late(snap)
    print(
        f"\nswitch to {target_name} at tick {k} ({len(old)} old notes ended), panic at tick {m} "
        f"ended {open_at_panic}; late ticks {snap.late_ticks}, step p50 {snap.step_p50_us:.0f} us "
        f"p99 {snap.step_p99_us:.0f} us"
    )


# ---- 5: external MIDI clock -------------------------------------------------------------------
def test_follows_midi_clock_and_stop_ends_its_notes(
    session, peer, thread_errors, jack_server, jack_period
):
    bpm, pulses = 100, 24 * 6  # six quarters of clock: 24 ticks, then Stop
    s = session(clock="midi", mode="continue", silence_ticks=4, response_bars=2)
    engine = s.engine
    log = TickLog(engine)
    xruns = XrunWatch(jack_server)
    engine.start()
    call = "60:0:0.5,62:0.5:0.5,64:1:0.5,65:1.5:0.5"  # two quarters, answered from tick ~12
    p = peer(
        "--send-to", "livegen in", "--record-from", "livegen out", "--notes", call,
        "--bpm", str(bpm), "--clock", str(bpm), "--clock-pulses", str(pulses),
        "--start-delay", "0.3", "--hold",
    )  # fmt: skip
    seconds = pulses / 24 * 60 / bpm
    wait_for(lambda: engine.snapshot().phase == "stopped", seconds + 5, "the Stop")
    time.sleep(0.5)  # any late note would come now
    snap = engine.snapshot()
    report = p.quit()  # before close: the offs must come from the Stop
    engine.close()
    assert engine.error is None and not thread_errors, (engine.error, thread_errors)

    sent = report["sent"]
    pulse_times = [t for t, msg in sent if msg == [0xF8]]
    assert len(pulse_times) == pulses
    t_stop = next(t for t, msg in sent if msg == [0xFC])
    # One tick per six pulses, no more, no less, none skipped; the tempo from the pulses.
    assert snap.tick + 1 == pulses // 6, snap.tick
    log.assert_no_gap()
    # (The tempo estimate is checked in test_midi_clock_tempo_estimate.)
    # Each tick ran soon after its pulse left the peer: within two cycles of the server's own
    # period (the peer's and livegen's) and the engine's 5 ms (polling, step), one period
    # more where jackd logged an overrun meanwhile. A tick one pulse (25 ms) off fails.
    overran = xruns.count()
    bound = 2 * jack_period + 0.005 + xruns.slack(jack_period)
    tick_pulses = pulse_times[::6]
    delay = [start - tick_pulses[n] for n, start, _ in log.rows]
    assert min(delay) > 0 and max(delay) <= bound, (np.round(delay, 4), bound, overran)
    got = note_events(report["received"])
    ons = [e for e in got if e[1] == "on"]
    assert ons, "no answer before the Stop"
    # The answer's notes leave on ticks: shortly after a tick's pulse, never between.
    for t, *_ in ons:
        k = int(np.searchsorted(tick_pulses, t)) - 1
        assert 0 <= t - tick_pulses[k] <= bound, (t, k, bound, overran)
    # Stop: every note ends at once, and nothing is struck after it.
    at_stop = sounding_at(got, t_stop)
    offs_after = [e for e in got if e[1] == "off" and e[0] > t_stop]
    assert not [e for e in got if e[1] == "on" and e[0] > t_stop]
    assert hanging(got) == set()
    assert all(e[0] - t_stop <= 0.05 for e in offs_after), offs_after
    assert snap.open_notes == () and snap.phase == "stopped"
    print(
        f"\nMIDI clock {bpm} BPM: {snap.tick + 1} ticks from {pulses} pulses, tempo estimate "
        f"{snap.bpm:.2f} BPM; tick after its pulse p50 {ms(pct(delay, 50))} max "
        f"{ms(max(delay))} (bound {ms(bound)}: JACK period {ms(jack_period)}, {overran} "
        f"xruns logged{', one period added' if overran else ''}); {len(ons)} notes, "
        f"{sorted(at_stop)} sounding at Stop, offs "
        f"{[round((e[0] - t_stop) * 1000, 1) for e in offs_after]} ms after it"
    )


def test_midi_clock_tempo_estimate(session, peer, thread_errors):
    bpm, pulses = 100, 24 * 3
    s = session(clock="midi")
    engine = s.engine
    engine.start()
    p = peer("--send-to", "livegen in", "--clock", str(bpm), "--clock-pulses", str(pulses))
    p.wait()
    wait_for(lambda: engine.snapshot().phase == "stopped", 3, "the Stop")
    snap = engine.snapshot()
    stamps = list(engine.clock.follower._stamps)
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    intervals = collections.Counter(round(x * 1000, 1) for x in gaps)
    engine.close()
    assert engine.error is None and not thread_errors
    assert snap.tick + 1 == pulses // 6
    print(f"\nMIDI clock {bpm} BPM read as {snap.bpm:.2f} BPM; intervals (ms): {intervals}")
    assert snap.bpm == pytest.approx(bpm, rel=0.02), (snap.bpm, intervals)


# ---- 6: bad input -----------------------------------------------------------------------------
JUNK = [  # after the flood: messages the engine must skip and count, then some it never sees
    [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7],  # sysex (identity request)
    [0xC0, 5],  # program change
    [0xD0, 40],  # channel aftertouch
    [0xA0, 60, 30],  # polyphonic aftertouch
    [0xE0, 0, 80],  # pitch bend
    [0xB0, 7, 100],  # a CC mapped to nothing
    [0xF1, 0x10],  # MTC quarter frame
    [0xF3, 2],  # song select
    [0xF6],  # tune request
    [0xFF],  # system reset
]
UNKNOWN = [[0xF4], [0xF5], [0xFD], [0xF9]]  # undefined status bytes: mido drops them


def test_a_flood_and_junk_do_not_disturb_the_ticks(session, peer, thread_errors, tmp_path):
    bpm = 120
    P = period(bpm)
    s = session(mode="continue", bpm=bpm, silence_ticks=4, response_bars=1)
    engine = s.engine
    log = TickLog(engine)
    engine.start()
    junk = tmp_path / "junk.json"
    junk.write_text(json.dumps([[1.3 + 0.01 * i, m] for i, m in enumerate(JUNK + UNKNOWN)]))
    # 10,000 note messages in one second, then notes outside the codec's range (one call with
    # the flood: no gap of silence_ticks), and the junk among them.
    far = "10:2.2:0.4,120:2.6:0.4,0:3:0.4,127:3.4:0.4"  # quarters at 120 BPM: 1.1 to 1.9 s
    p = peer(
        "--send-to", "livegen in", "--record-from", "livegen out", "--flood", "10000",
        "--flood-seconds", "1", "--events-file", str(junk), "--notes", far, "--hold",
    )  # fmt: skip
    wait_for(lambda: engine.snapshot().phase == "answering", 10, "an answer after the input")
    wait_for(lambda: engine.snapshot().phase == "listening", 5, "the answer to end")
    snap = engine.snapshot()
    report = p.quit()
    engine.close()
    assert engine.error is None and not thread_errors, (engine.error, thread_errors)

    assert len(report["sent"]) == 10_000 + len(JUNK) + len(UNKNOWN) + 8
    log.assert_no_gap()
    assert_few_late(snap)
    # Ticks kept their deadlines through the flood: none started far from it, at the tempo.
    late = log.late(engine.clock)
    assert max(late) < P / 4, np.round(late, 4)
    (n0, t0, _), (n1, t1, _) = log.rows[0], log.rows[-1]
    assert (t1 - t0) / (n1 - n0) == pytest.approx(P, rel=0.005)
    assert snap.dropped_input >= 0  # the default queue (4096) may hold a tick's share
    assert snap.ignored_input == len(JUNK), snap.ignored_input
    # Far notes were heard (as played), folded for the model, and answered in range.
    heard = {sp.pitch for sp in snap.recent if sp.source == "in"}
    assert {10, 120, 0, 127} <= heard
    got = note_events(report["received"])
    ons = [e for e in got if e[1] == "on"]
    assert ons, "no answer"
    call_end = max(t for t, msg in report["sent"])
    assert ons[0][0] > call_end, "answered before the far notes ended the call"
    assert all(48 <= pitch <= 84 for _, _, pitch, _ in got)
    assert hanging(got) == set()
    print(
        f"\nflood: {snap.tick + 1} ticks, late {snap.late_ticks}, max start after deadline "
        f"{ms(max(late))}, dropped {snap.dropped_input}, ignored {snap.ignored_input}, step "
        f"p50 {snap.step_p50_us:.0f} us p99 {snap.step_p99_us:.0f} us"
    )


def test_a_small_input_queue_drops_and_counts(session, peer, thread_errors):
    s = session(mode="continue", bpm=120, queue_size=16)
    engine = s.engine
    log = TickLog(engine)
    engine.start()
    time.sleep(0.2)
    p = peer("--send-to", "livegen in", "--flood", "10000", "--flood-seconds", "1")
    report = p.wait()
    time.sleep(0.3)
    snap = engine.snapshot()
    engine.close()
    assert engine.error is None and not thread_errors
    assert len(report["sent"]) == 10_000
    assert 0 < snap.dropped_input < 10_000, snap.dropped_input
    log.assert_no_gap()
    (n0, t0, _), (n1, t1, _) = log.rows[0], log.rows[-1]
    assert (t1 - t0) / (n1 - n0) == pytest.approx(period(120), rel=0.005)
    assert_few_late(snap)
    print(
        f"\nqueue of 16: dropped {snap.dropped_input} of 10000, late ticks {snap.late_ticks}, "
        f"slowest ticks {log.slowest()}"
    )


def test_a_note_off_lost_to_a_full_queue_does_not_wedge_the_answer(
    session, peer, thread_errors, tmp_path
):
    s = session(mode="continue", bpm=120, queue_size=16, silence_ticks=4)
    engine = s.engine
    engine.start()
    # One burst, in one JACK cycle: a key goes down, 500 messages the engine ignores fill the
    # queue, the key comes up (that note-off is dropped). Nothing follows.
    burst = [[0x90, 60, 90]] + [[0xB0, 7, k % 128] for k in range(500)] + [[0x80, 60, 0]]
    events = tmp_path / "burst.json"
    events.write_text(json.dumps([[0.0, msg] for msg in burst]))
    p = peer("--send-to", "livegen in", "--events-file", str(events))
    p.wait()
    time.sleep(0.2)
    assert engine.snapshot().dropped_input > 0
    try:
        wait_for(lambda: engine.snapshot().phase == "answering", 3, "an answer")
    finally:
        snap = engine.snapshot()
        engine.close()
    assert engine.error is None and not thread_errors
    assert snap.phase == "answering", snap


# ---- 7, 8: ports and server lost --------------------------------------------------------------
def test_a_named_port_that_disappears_ends_the_session(session, peer, thread_errors):
    p = peer("--virtual-out", "peer out", "--virtual-in", "peer in", "--duration", "30")
    s = session(mode="free", in_port="peer out", out_port="peer in", virtual=False)
    engine = s.engine
    assert not s.ports.info.virtual and s.ports.alive()
    engine.start()
    wait_for(lambda: engine.snapshot().open_notes, 5, "livegen to play into the peer")
    p.kill()  # SIGKILL: its ports vanish with the process, while livegen's notes sound
    killed = time.monotonic()
    assert engine.wait(4.0), "the engine did not notice the lost port"
    took = time.monotonic() - killed
    snap = engine.snapshot()
    engine.close()  # must not raise with the port gone
    s.ports.close()
    assert not thread_errors, thread_errors
    assert took <= 3.0, took
    assert engine.error is not None and "'peer out'" in engine.error, engine.error
    assert engine.error.startswith("MIDI port lost") and "\n" not in engine.error
    assert not snap.running and snap.error == engine.error
    assert snap.open_notes == ()  # the book is cleared even though the offs could not go out
    print(f"\nport lost noticed after {took:.2f} s: {engine.error}")


def test_livegen_run_ends_cleanly_when_its_jack_server_stops(tmp_path):
    server = start_dummy_jack(use=False)  # its own: the module's server stays for the others
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--mode", "free",
             "--duration", "60"],
            cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            lines = []
            deadline = time.monotonic() + 30  # loading torch and the model on a busy machine
            while not any(line.startswith("listening on") for line in lines):
                assert time.monotonic() < deadline and proc.poll() is None, (
                    lines,
                    proc.poll(),
                )
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready:
                    lines.append(proc.stdout.readline())
            time.sleep(1.0)  # playing
            server.stop()
            stopped = time.monotonic()
            out, err = proc.communicate(timeout=10)
            took = time.monotonic() - stopped
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        server.stop()
    assert proc.returncode == 1, (proc.returncode, err)
    assert took <= 4.0, took
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("livegen: error:")]
    assert len(errors) == 1, err
    assert "JACK server stopped" in errors[0], errors[0]
    assert "stopped after" in out  # the summary: it went through its normal shutdown
    print(f"\nJACK server gone: livegen exited {proc.returncode} after {took:.2f} s: {errors[0]}")
    others = [line for line in err.splitlines() if not line.startswith("livegen: error:")]
    if others:
        print(f"  other stderr lines (libjack): {others[:5]}")
