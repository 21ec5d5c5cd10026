"""The Link tick source on a fake Link timeline and a fake clock: beat grid, bars, tempo,
timeline jumps, Start/Stop and led MIDI clock. The real Link is in tests/integration."""

from __future__ import annotations

import threading

import mido
import pytest

from livegen.clock import PPQN, ClockSender, tick_source
from livegen.link import LinkTicks
from livegen.switch import Regrid


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += max(s, 5e-6)


class FakeLink:
    """A fake of aalink.Link: a beat line ``beat = b0 + (t - t0) * tempo / 60`` on FakeTime.

    Link's ``beat`` is the session's beat at now; setting the tempo bends the line at now.
    """

    def __init__(self, ft: FakeTime, tempo: float = 120.0, beat: float = 0.0) -> None:
        self.ft = ft
        self._t0, self._b0, self._tempo = ft.t, beat, tempo
        self.num_peers = 0
        self.playing = False
        self.quantum = 1.0
        self.enabled = False
        self.start_stop_sync_enabled = False

    @property
    def beat(self) -> float:
        return self._b0 + (self.ft.t - self._t0) * self._tempo / 60.0

    @property
    def tempo(self) -> float:
        return self._tempo

    @tempo.setter
    def tempo(self, bpm: float) -> None:  # a peer's change, or ours
        self._b0, self._t0, self._tempo = self.beat, self.ft.t, bpm

    def move(self, beats: float) -> None:
        """The timeline jumps (joining a session, a peer forcing a beat)."""
        self._b0 += beats

    def time_of(self, beat: float) -> float:
        return self._t0 + (beat - self._b0) * 60.0 / self._tempo


def make(beat: float = 0.0, tpq: int = 4, bar: int = 4, send=None):
    ft = FakeTime()
    link = FakeLink(ft, beat=beat)
    ticks = LinkTicks(link, tpq, bar, send, now=ft.now, sleep=ft.sleep)
    return ft, link, ticks


NEVER = threading.Event()


def wait(ticks: LinkTicks, n: int, between=lambda: None):
    return ticks.wait(n, between, NEVER)


def test_it_joins_with_the_quantum_and_start_stop_sync():
    _, link, _ = make(bar=3)
    assert link.enabled and link.start_stop_sync_enabled
    assert link.quantum == 3.0


def test_ticks_fall_on_links_beat_grid():
    ft, link, ticks = make(beat=0.0)
    ticks.start(0, ft.t)
    for n in range(40):
        event = wait(ticks, n)
        assert (event.kind, event.tick) == ("tick", n)
        assert ft.t >= event.time  # never early
        assert link.beat == pytest.approx(n / 4, abs=1e-4)  # n / tpq beats: on the grid


def test_start_mid_bar_numbers_the_ticks_so_bars_fall_on_links_bars():
    ft, link, ticks = make(beat=37.3)  # beat 1.3 of Link's bar 10 (4 beats a bar)
    ticks.start(0, ft.t)
    first = wait(ticks, 0)
    assert first.kind == "position"  # renumbered at once: no waiting for the next bar
    assert first.tick == 6  # tick 6 of livegen's bar 0 (beat 1.5) is the next on the grid
    event = wait(ticks, first.tick)
    assert (event.kind, event.tick) == ("tick", 6)
    assert link.beat == pytest.approx(37.5, abs=1e-4)
    for n in range(7, 17):
        wait(ticks, n)
    assert link.beat == pytest.approx(40.0, abs=1e-4)  # tick 16, livegen's bar 1: Link's bar
    assert link.beat % 4 == pytest.approx(0.0, abs=1e-4)


def test_start_after_a_primer_keeps_ticks_on_the_bar_grid():
    ft, link, ticks = make(beat=9.0)  # beat 2 of Link's bar 3
    ticks.start(18, ft.t)  # the primer ended at tick 18 (beat 1.5 of livegen's bar 2)
    first = wait(ticks, 18)
    assert (first.kind, first.tick) == ("position", 20)  # tick 20 is beat 2 of livegen's bar
    assert wait(ticks, 20).tick == 20
    for n in range(21, 33):
        wait(ticks, n)
    assert link.beat == pytest.approx(12.0, abs=1e-4)  # tick 32, livegen's bar 3: Link's bar


def test_a_peers_tempo_change_moves_the_next_deadline():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    for n in range(8):
        wait(ticks, n)
    t7 = ft.t
    link.tempo = 60.0  # a peer halves the tempo, between ticks 7 and 8
    wait(ticks, 8)
    assert ticks.bpm == 60.0
    assert ft.t - t7 == pytest.approx(0.25, abs=1e-4)  # one tick at 60 BPM, not 0.125
    assert link.beat == pytest.approx(2.0, abs=1e-4)


def test_a_tempo_change_during_a_wait_is_followed_before_the_tick():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    wait(ticks, 0)
    changed = []

    def between():
        if not changed and ft.t > 1000.05:
            link.tempo = 240.0
            changed.append(ft.t)

    wait(ticks, 1, between)
    assert link.beat == pytest.approx(0.25, abs=1e-3)  # still on the grid at the new tempo


@pytest.mark.parametrize("old, new", [(600.0, 120.0), (180.0, 600.0)])
def test_a_tempo_change_heard_late_bends_the_line_and_is_no_jump(old, new):
    """Link passes a peer's change on up to 50 ms late: the beat is then off the old line by
    (new - old) / 60 x lag, more than half a tick for big changes, but nothing jumped."""
    sent: list[str] = []
    ft, link, ticks = make(tpq=4, send=lambda msg: sent.append(msg.type))
    link.tempo = old
    ticks.start(0, ft.t)
    first = wait(ticks, 0)
    n = first.tick
    for k in range(n, n + 9):
        wait(ticks, k)
    starts = sent.count("start")
    changed_at = ft.t - 0.06  # the peer changed it 60 ms ago
    link._b0, link._t0, link._tempo = link.beat - (ft.t - changed_at) * old / 60, changed_at, new
    for k in range(n + 9, n + 14):
        event = wait(ticks, k)
        assert event.kind == "tick", event  # not renumbered as a jump of the timeline
    assert ticks.bpm == new and sent.count("start") == starts  # no second MIDI Start


def test_a_jump_with_a_tempo_change_is_still_a_jump():
    from livegen.link import late_tempo_change

    assert late_tempo_change(-0.4, 600.0, 120.0)  # 50 ms late: a bend
    assert not late_tempo_change(0.4, 600.0, 120.0)  # the wrong way for a slow-down
    assert not late_tempo_change(-3.0, 600.0, 120.0)  # 375 ms: a jump
    assert not late_tempo_change(0.4, 120.0, 120.0)


def test_set_tempo_goes_to_the_session_and_keeps_the_beat():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    for n in range(4):
        wait(ticks, n)
    ticks.set_tempo(90.0)
    assert link.tempo == 90.0 and ticks.bpm == 90.0
    event = wait(ticks, 4)
    assert event.kind == "tick"  # not taken for a jump of the timeline
    assert link.beat == pytest.approx(1.0, abs=1e-4)


def test_a_jump_ahead_renumbers_without_rushing_the_skipped_ticks():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    for n in range(4):
        wait(ticks, n)
    link.move(2.1)  # the session's timeline is 2.1 beats further on
    event = wait(ticks, 4)
    assert event.kind == "position"
    assert event.tick == 12  # the timeline is at beat 2.85: tick 12 (beat 3) is next
    assert wait(ticks, 12).tick == 12
    assert link.beat == pytest.approx(3.0, abs=1e-4)


def test_a_jump_back_moves_by_whole_bars_so_ticks_never_repeat():
    ft, link, ticks = make(beat=20.0)
    ticks.start(0, ft.t)
    for n in range(6):
        wait(ticks, n)
    link.move(-3.0)  # back three beats
    event = wait(ticks, 6)
    assert event.kind == "position" and event.tick > 5
    tick = wait(ticks, event.tick)
    # The tick's place in the bar is the Link beat's place in Link's bar.
    assert (tick.tick / 4) % 4 == pytest.approx(link.beat % 4, abs=1e-3)


def test_a_jump_by_whole_bars_changes_nothing():
    ft, link, ticks = make(beat=3.0)
    ticks.start(0, ft.t)
    first = wait(ticks, 0)
    for n in range(first.tick, first.tick + 3):
        wait(ticks, n)
    link.move(8.0)  # two bars: Link moved the beat's count, not its phase
    event = wait(ticks, first.tick + 3)
    assert (event.kind, event.tick) == ("tick", first.tick + 3)
    assert (event.tick / 4) % 4 == pytest.approx(link.beat % 4, abs=1e-3)


def test_stall_returns_the_tick_due_now():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    wait(ticks, 0)
    ft.t += 0.5  # the machine stalled for four ticks
    event = wait(ticks, 1)
    assert event.kind == "tick" and event.tick == 4
    assert event.late == pytest.approx(0.5 - 0.125, abs=1e-3)


def test_session_stop_then_start_on_the_next_bar():
    ft, link, ticks = make()
    link.playing = True  # a peer plays when livegen joins: nothing happens
    ticks.start(0, ft.t)
    assert wait(ticks, 0).kind == "tick"
    link.playing = False
    stop = wait(ticks, 1)
    assert stop.kind == "stop"
    for n in range(1, 6):  # ticks go on while stopped: the musician is still heard
        assert wait(ticks, n).kind == "tick"
    link.playing = True
    start = wait(ticks, 6)
    assert (start.kind, start.tick) == ("start", 0)
    tick0 = wait(ticks, 0)
    assert tick0.kind == "tick" and tick0.tick == 0
    assert link.beat == pytest.approx(4.0, abs=1e-4)  # the next bar after beat 1.5
    assert ticks.notices[-1].startswith("Link: the session started")


def test_peers_are_counted_and_alone_is_said():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    assert "keeping time alone" in ticks.notices.popleft()
    link.num_peers = 2
    wait(ticks, 0)
    assert ticks.peers == 2 and ticks.notices.popleft().startswith("Link: 2 peers")
    link.num_peers = 0
    wait(ticks, 1)
    assert ticks.peers == 0 and "keeping time alone" in ticks.notices.popleft()


def test_led_midi_clock_starts_on_a_bar_and_follows_the_tempo():
    sent: list[tuple[float, str]] = []
    holder: list[FakeTime] = []

    def send(msg: mido.Message) -> None:
        sent.append((holder[0].t, msg.type))

    ft, link, ticks = make(beat=1.0, send=send)  # beat 2 of Link's bar
    holder.append(ft)
    ticks.start(0, ft.t)
    m = wait(ticks, 0).tick
    for n in range(m, 17):
        wait(ticks, n)
    first_of_16 = len(sent) - 1  # tick 16's first pulse went at its deadline
    types = [k for _, k in sent]
    start = types.index("start")
    assert types[:start] == ["clock"] * (6 * (16 - m))  # pulses but no Start before the bar
    assert link.time_of(4.0) == pytest.approx(sent[start][0], abs=1e-4)  # Start on Link's bar
    link.tempo = 60.0  # mid-tick: tick 16's queued pulses move to the new tempo
    for n in (17, 18, 19):
        wait(ticks, n)
    pulses = sent[first_of_16:]
    assert len(pulses) == 3 * 6 + 1  # none lost, none doubled
    gaps = [b[0] - a[0] for a, b in zip(pulses, pulses[1:], strict=False)]
    assert all(g == pytest.approx(0.25 / 6, abs=1e-4) for g in gaps)
    link.playing, ticks._playing = False, True
    wait(ticks, 20)
    assert sent[-1][1] == "stop"


def test_stop_leaves_the_session():
    sent = []
    ft, link, ticks = make(send=sent.append)
    ticks.start(0, ft.t)
    ticks.stop()
    ticks.stop()  # the engine's shutdown may come twice: one Stop
    assert not link.enabled
    assert sent == [ClockSender.STOP]


def test_regrid_keeps_the_beat():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    for n in range(9):
        wait(ticks, n)
    before = ticks.deadline(12)
    ticks.regrid(Regrid(12, 4, 12))  # tick 12 of 4 per quarter is tick 36 of 12
    assert ticks.deadline(36) == pytest.approx(before)
    assert ticks.period == pytest.approx(60 / (120 * 12))


@pytest.mark.parametrize("old, new", [(4, 12), (12, 4)])
def test_led_clock_keeps_24_pulses_a_quarter_through_a_switch_of_grid(old, new):
    """A switch at tick n, after its first pulse: the rest of n's pulses come on the new grid."""
    sent: list[float] = []
    holder: list[FakeTime] = []
    ft, link, ticks = make(tpq=old, send=lambda msg: sent.append(holder[0].t))
    holder.append(ft)
    ticks.start(0, ft.t)
    for n in range(2 * old + 1):  # two quarters, then the switch on the next line
        wait(ticks, n)
    regrid = Regrid(2 * old, old, new)
    ticks.regrid(regrid)
    for n in range(regrid.m + 1, regrid.m + new + 1):
        wait(ticks, n)
    times = sent[-(PPQN + 1) :]  # the last quarter and a downbeat
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g == pytest.approx(0.5 / PPQN, abs=1e-4) for g in gaps), gaps
    assert len(sent) == 3 * PPQN + 1 + 1  # three quarters of pulses, a downbeat, one Start


def test_tick_source_picks_link(monkeypatch):
    ft = FakeTime()
    monkeypatch.setattr("livegen.link.open_link", lambda bpm: FakeLink(ft, tempo=bpm))
    ticks = tick_source("link", 100.0, 4, beats_per_bar=3, latency_ms=5, now=ft.now)
    assert ticks.kind == "link" and ticks.bpm == 100.0 and ticks.quantum == 3.0
    assert ticks.latency == pytest.approx(0.005)


def test_without_aalink_the_error_says_how_to_install(monkeypatch):
    import sys

    from livegen.errors import LivegenError
    from livegen.link import open_link

    monkeypatch.setitem(sys.modules, "aalink", None)
    with pytest.raises(LivegenError, match="pip install aalink"):
        open_link(120.0)


def test_livegens_stop_and_start_are_proposed_to_the_session_and_followed_on_the_bar():
    ft, link, ticks = make()
    link.playing = True  # peers play, with Start/Stop sync
    ticks.start(0, ft.t)
    assert wait(ticks, 0).kind == "tick"
    ticks.propose_transport(False)  # the panel's stop
    assert link.playing is False  # every peer that syncs sees the session stop
    stop = wait(ticks, 1)
    assert stop.kind == "stop"  # and livegen follows it as it follows a peer's
    assert ticks.notices[-1] == "Link: livegen stopped the session"
    for n in range(1, 6):
        assert wait(ticks, n).kind == "tick"
    ticks.propose_transport(True)  # the panel's start
    assert link.playing is True
    start = wait(ticks, 6)
    assert (start.kind, start.tick) == ("start", 0)
    assert wait(ticks, 0).kind == "tick"
    assert link.beat == pytest.approx(4.0, abs=1e-4)  # tick 0 on the next bar, as peers start
    assert ticks.notices[-1].startswith("Link: livegen started the session")
    link.playing = False  # a peer's stop later is still the session's, not livegen's
    assert wait(ticks, 1).kind == "stop"
    assert ticks.notices[-1] == "Link: the session stopped"


def test_a_proposal_the_session_already_has_or_without_start_stop_sync_changes_nothing():
    ft, link, ticks = make()
    ticks.start(0, ft.t)
    ticks.propose_transport(False)  # stopped already: no event, no notice
    ticks.notices.clear()
    assert wait(ticks, 0).kind == "tick" and not ticks.notices
    link.start_stop_sync_enabled = False  # the transport is not shared: livegen keeps its own
    ticks.propose_transport(True)
    assert link.playing is False
    assert wait(ticks, 1).kind == "tick"


def test_the_engines_start_stop_reaches_link_through_the_control_path():
    from livegen.control_path import ControlPath
    from livegen.controls import Action, CcMap, Do, Settings
    from livegen.live_config import LiveConfig
    from livegen.modes import Modes
    from tests.test_control_path import Recorder

    ft, link, ticks = make()
    link.playing = True
    ticks.start(0, ft.t)
    cfg = LiveConfig()
    modes = Modes(cfg.mode, silence_ticks=4, ticks_per_bar=16)
    voice = Recorder()
    voice.player = Recorder()  # the control path asks the player for its model's styles
    cp = ControlPath(
        Settings.of(cfg), cc=CcMap(cfg.cc), sampler=Recorder(), clock=ticks, modes=modes,
        voice=voice, switcher=Recorder(), ports=Recorder(), picture=Recorder(),
        fixed_velocity=cfg.fixed_velocity,
    )  # fmt: skip
    cp.submit(Do(Action.TOGGLE))  # space in the panel, /livegen/toggle by OSC: a stop now
    cp.apply(0, [])
    assert not modes.playing and link.playing is False
    cp.submit(Do(Action.PLAY))
    cp.apply(1, [])
    assert modes.playing and link.playing is True
