"""The engine's tick logic on a manual clock: ``Engine.tick`` is called by hand with the
input of each tick, against fake ports that record what is sent (tests/fakes.py). Real
ports and a real clock are in tests/integration/test_engine.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import torch

from livegen.checkpoint import Loaded
from livegen.codecs import make_codec
from livegen.controls import Action, Control, Do, Forget, Learn, MapCc, Set
from livegen.engine import Engine
from livegen.live_config import LiveConfig
from livegen.snapshot import Snapshot
from tests.fakes import FakePorts, sounding
from tests.test_player import tiny_model


def loaded(codec_name: str = "melody", seed: int = 0, name: str = "tiny") -> Loaded:
    codec = make_codec(codec_name)
    return Loaded(tiny_model(codec, seed), codec, {}, Path(f"{name}_{codec_name}.pt"))


def on(p: int, v: int = 90) -> mido.Message:
    return mido.Message("note_on", note=p, velocity=v)


def off(p: int) -> mido.Message:
    return mido.Message("note_off", note=p)


def make(codec: str = "melody", **cfg) -> tuple[Engine, FakePorts]:
    ports = FakePorts()
    settings = {"seed": 1, "silence_ticks": 4, "response_bars": 1, **cfg}
    engine = Engine(loaded(codec), ports, LiveConfig(**settings))
    return engine, ports


CALL = [[on(60)], [], [off(60), on(64)], [], [off(64), on(67)], [], [off(67)]]


def run_ticks(engine: Engine, script: list[list[mido.Message]], n: int) -> list[Snapshot]:
    shots = []
    for i in range(n):
        msgs = script[i] if i < len(script) else []
        engine.tick([(0.0, m) for m in msgs])
        shots.append(engine.snapshot())
    return shots


def note_ons(messages) -> list[mido.Message]:
    return [m for m in messages if m.type == "note_on" and m.velocity > 0]


# ---- continue: call and response -----------------------------------------------------------
def test_continue_answers_after_the_silence_then_listens_again():
    engine, ports = make()
    shots = run_ticks(engine, CALL, 40)
    phases = [s.phase for s in shots]
    # The last note ends at tick 6; the musician's last sounding tick is 5, so after four
    # silent ticks (6..9) the answer starts at tick 9.
    assert phases[:9] == ["listening"] * 9
    assert phases[9] == "answering"
    length = 1 * 4 * 4  # response_bars 1 at 4 ticks per quarter in 4/4
    assert phases[9 : 9 + length] == ["answering"] * length
    assert phases[9 + length] == "listening"
    assert note_ons(ports.sent), "the tiny model answered nothing"
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_answer_notes_arrive_only_while_answering():
    engine, ports = make()
    sent_at = []
    for i in range(40):
        before = len(ports.sent)
        engine.tick([(0.0, m) for m in (CALL[i] if i < len(CALL) else [])])
        sent_at += [(i, m) for m in ports.sent[before:]]
    ons = [i for i, m in sent_at if m.type == "note_on"]
    assert ons and min(ons) >= 10 and max(ons) <= 9 + 16
    # Every note of the answer is released by the tick after the answer ends.
    assert sounding([m for _, m in sent_at]) == set()


def test_response_zero_bars_answers_as_long_as_the_call():
    engine, _ = make(response_bars=0)
    shots = run_ticks(engine, CALL, 30)
    answering = [i for i, s in enumerate(shots) if s.phase == "answering"]
    assert len(answering) == 6  # the call sounded from tick 0 to tick 5


def test_the_musician_coming_back_stops_the_answer_and_releases_its_notes():
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 14)
    assert engine.snapshot().phase == "answering"
    engine.tick([(0.0, on(72))])
    assert engine.snapshot().phase == "listening"
    engine.tick([])  # the answer's notes are released at the next tick
    own = {(0, p) for p in range(128)} - {(0, 72)}
    assert not (sounding(ports.sent) & own)


def test_end_call_answers_without_waiting_for_silence():
    engine, _ = make(silence_ticks=16)
    run_ticks(engine, [[on(60)], []], 2)
    engine.submit(Do(Action.END_CALL))
    engine.tick([])
    assert engine.snapshot().phase == "answering"


def test_state_carries_across_phrases_and_reset_clears_it():
    engine, _ = make()
    run_ticks(engine, CALL, 30)
    assert engine.player.heard_anything
    engine.submit(Do(Action.RESET))
    engine.tick([])
    assert not engine.player.heard_anything
    assert "state reset" in engine.snapshot().notices


# ---- other modes -------------------------------------------------------------------------
def test_accompany_plays_while_the_musician_plays_and_stops_after():
    engine, ports = make(mode="accompany")
    script = [[on(60)]] + [[]] * 11 + [[off(60)]]
    shots = run_ticks(engine, script, 30)
    assert shots[0].phase == "accompanying"
    assert shots[12].phase == "accompanying"  # the note is held: still playing
    assert shots[-1].phase == "listening"
    engine.tick([])
    mine = [m for m in ports.sent if m.note != 60]
    assert note_ons(mine)
    assert sounding(ports.sent) == set()


def test_free_mode_plays_from_the_primer_without_waiting():
    from livegen.notes import make_notes

    ports = FakePorts()
    primer = make_notes([(60, 0, 1), (62, 1, 2), (64, 2, 3)])
    engine = Engine(loaded(), ports, LiveConfig(seed=3, mode="free"), primer=primer)
    engine.prime()
    shots = run_ticks(engine, [], 40)
    assert all(s.phase == "playing" for s in shots)
    assert note_ons(ports.sent)
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_mode_change_applies_at_the_next_tick_and_ends_the_answer():
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 14)
    engine.submit(Set(Control.MODE, "accompany"))
    assert engine.modes.mode == "continue"  # nothing changes between ticks
    engine.tick([])
    assert engine.modes.mode == "accompany"
    engine.tick([])
    assert sounding(ports.sent) == set()


# ---- controls ----------------------------------------------------------------------------
def test_controls_apply_at_the_next_tick():
    engine, _ = make()
    engine.submit(Set(Control.TEMPERATURE, 0.3))
    engine.submit(Set(Control.RESPONSE_BARS, 3))
    engine.submit(Set(Control.VELOCITY, "fixed"))
    assert engine.sampler.temperature == pytest.approx(0.9)
    engine.tick([])
    s = engine.snapshot()
    assert s.temperature == pytest.approx(0.3)
    assert s.response_bars == 3
    assert s.velocity == "fixed"


@pytest.mark.parametrize(
    "make_command",
    [
        lambda: Set(Control.TEMPERATURE, -1),
        lambda: Set(Control.BPM, 0),
        lambda: Set(Control.MODE, "jam"),
        lambda: Set(Control.CHANNEL, 16),
        lambda: Set(Control.KEY, "H major"),
        lambda: Set(Control.VELOCITY, "loud"),
        lambda: Set(Control.RESPONSE_BARS, -1),
        lambda: Learn("volume"),
    ],
)
def test_bad_control_values_are_refused_in_the_callers_thread(make_command):
    with pytest.raises(ValueError):
        make_command()


def test_tempo_change_moves_the_next_deadline_only():
    engine, _ = make(bpm=120)
    clock = engine.clock.clock
    clock.start(at=100.0)
    clock.last_tick = 3
    before = clock.deadline(3)
    engine.submit(Set(Control.BPM, 60))
    engine.tick([])
    assert clock.deadline(3) == pytest.approx(before)
    assert clock.deadline(4) - clock.deadline(3) == pytest.approx(0.25)


def test_output_channel_and_fixed_velocity():
    engine, ports = make(channel=5, velocity="fixed", fixed_velocity=33)
    run_ticks(engine, CALL, 30)
    ons = note_ons(ports.sent)
    assert ons and {m.channel for m in ons} == {5} and {m.velocity for m in ons} == {33}


def test_a_channel_change_mid_answer_ends_the_notes_on_the_old_channel():
    engine, ports = make(response_bars=4)
    for i in range(40):  # into the answer, until one of its notes sounds
        engine.tick([(0.0, m) for m in (CALL[i] if i < len(CALL) else [])])
        if engine.snapshot().open_notes:
            break
    assert {ch for ch, _ in engine.snapshot().open_notes} == {0}
    engine.submit(Set(Control.CHANNEL, 3))
    run_ticks(engine, [], 2)
    # Released at the next tick on channel 1 (0 on the wire), not left until the session ends.
    assert {ch for ch, _ in sounding(ports.sent)} <= {3}
    assert engine.channel == 3
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_player_velocity_follows_the_last_note_played():
    engine, ports = make(velocity="player")
    script = [[on(60, 17)], [], [off(60)]]
    run_ticks(engine, script, 30)
    ons = note_ons(ports.sent)
    assert ons and {m.velocity for m in ons} == {17}


def test_key_lock_keeps_answers_in_the_scale():
    engine, ports = make(key="C major", response_bars=8, temperature=2.0)
    run_ticks(engine, CALL, 150)
    ons = note_ons(ports.sent)
    assert len(ons) > 5
    assert {m.note % 12 for m in ons} <= {0, 2, 4, 5, 7, 9, 11}


def test_panic_ends_every_note_and_sends_all_notes_off():
    engine, ports = make(response_bars=4, passthrough=True)
    ports.feed(on(50))
    engine._between()  # pass-through sends the musician's note at once
    run_ticks(engine, CALL, 20)
    engine.submit(Do(Action.PANIC))
    engine.tick([])
    assert ports.panics == 1
    assert engine.snapshot().open_notes == ()
    assert sounding(ports.sent) == set()
    assert engine.snapshot().phase == "listening"


def test_stop_silences_and_play_resumes():
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 14)
    engine.submit(Do(Action.STOP))
    engine.tick([])
    engine.tick([])
    assert engine.snapshot().phase == "stopped"
    assert sounding(ports.sent) == set()
    count = len(ports.sent)
    run_ticks(engine, CALL, 20)
    assert len(ports.sent) == count  # stopped: nothing goes out
    engine.submit(Do(Action.PLAY))
    engine.tick([])
    assert engine.snapshot().playing


def test_regenerate_replays_the_answer_from_where_it_started():
    engine, ports = make(response_bars=2)
    run_ticks(engine, CALL, 20)
    assert engine.snapshot().phase == "answering"
    engine.submit(Do(Action.REGENERATE))
    engine.tick([])
    assert engine.snapshot().phase == "answering"
    run_ticks(engine, [], 40)
    assert engine.snapshot().phase == "listening"
    assert sounding(ports.sent) == set()


# ---- input -------------------------------------------------------------------------------
def test_sustain_pedal_holds_released_notes_until_it_lifts():
    engine, _ = make(silence_ticks=2)
    pedal = [mido.Message("control_change", control=64, value=v) for v in (127, 0)]
    script = [[pedal[0], on(60)], [off(60)], [], [], [], [pedal[1]], [], [], []]
    shots = run_ticks(engine, script, 9)
    heard = [s for s in shots[-1].recent if s.source == "in"]
    assert heard == [type(heard[0])(60, 0, 5, "in")]
    assert all(s.phase == "listening" for s in shots[:6])


def test_a_note_struck_and_released_in_one_tick_lasts_one_tick():
    engine, _ = make()
    engine.tick([(0.0, on(60)), (0.0, off(60))])
    engine.tick([])
    spans = [s for s in engine.snapshot().recent if s.source == "in"]
    assert [(s.pitch, s.start, s.end) for s in spans] == [(60, 0, 1)]


def test_notes_out_of_range_sysex_and_unknown_messages_change_nothing_else():
    engine, ports = make()
    junk = [
        mido.Message("sysex", data=[1, 2, 3]),
        mido.Message("aftertouch", value=3),
        mido.Message("program_change", program=5),
        mido.Message("pitchwheel", pitch=100),
        on(5),
        on(127),
    ]
    engine.tick([(0.0, m) for m in junk])
    engine.tick([(0.0, off(5)), (0.0, off(127))])
    s = engine.snapshot()
    assert s.ignored_input == 4
    assert s.tick == 1 and s.error is None


def test_a_flood_is_bounded_and_counted():
    ports = FakePorts(queue_size=64)
    engine = Engine(loaded(), ports, LiveConfig(seed=1, queue_size=64))
    for i in range(10_000):
        ports.feed(on(60 + i % 12) if i % 2 == 0 else off(60 + i % 12))
    engine.tick(engine._take_inbox())
    s = engine.snapshot()
    assert s.dropped_input == 10_000 - 64


def test_passthrough_echoes_the_musicians_notes_on_the_output_channel():
    engine, ports = make(passthrough=True, channel=2)
    ports.feed(on(61))
    engine._between()
    assert [(m.type, m.note, m.channel) for m in ports.sent] == [("note_on", 61, 2)]
    ports.feed(off(61))
    engine._between()
    assert sounding(ports.sent) == set()


def test_cc_mapping_and_learn():
    engine, _ = make(cc={"temperature": 21})
    engine.tick([(0.0, mido.Message("control_change", control=21, value=127))])
    assert engine.sampler.temperature == pytest.approx(2.0)
    engine.submit(Learn("panic"))
    engine.tick([])
    engine.tick([(0.0, mido.Message("control_change", control=30, value=5))])
    assert dict(engine.snapshot().cc_map)["panic"] == 30
    panics = engine.ports.panics
    engine.tick([(0.0, mido.Message("control_change", control=30, value=127))])
    assert engine.ports.panics == panics + 1


def test_forget_removes_a_mapping_at_the_next_tick_and_map_cc_sets_one():
    engine, _ = make(cc={"temperature": 21, "panic": 22})
    engine.submit(Forget("temperature"))
    engine.tick([])
    assert engine.snapshot().cc_map == (("panic", 22),)
    ignored = engine.snapshot().ignored_input
    engine.tick([(0.0, mido.Message("control_change", control=21, value=127))])
    assert engine.sampler.temperature == pytest.approx(0.9)  # CC 21 controls nothing now
    assert engine.snapshot().ignored_input == ignored + 1
    engine.submit(MapCc("temperature", 22))  # takes CC 22 from panic
    engine.tick([])
    assert engine.snapshot().cc_map == (("temperature", 22),)
    engine.tick([(0.0, mido.Message("control_change", control=22, value=127))])
    assert engine.sampler.temperature == pytest.approx(2.0)
    assert engine.ports.panics == 0


def test_the_snapshots_plan_is_what_the_next_tick_sends():
    engine, ports = make(mode="free", seed=3)
    checked = 0
    for _ in range(64):
        engine.tick([])
        snap = engine.snapshot()
        sent_before = len(ports.sent)
        engine.tick([])
        sent = ports.sent[sent_before:]
        struck = sorted(m.note for m in sent if m.type == "note_on" and m.velocity > 0)
        plan = dict(snap.plan)
        assert set(plan) <= {snap.tick + 1}, plan  # livegen plans one tick ahead
        assert sorted(plan.get(snap.tick + 1, ())) == struck
        checked += bool(struck)
    assert checked >= 5, "the tiny model played too little to check its plan"
    engine.shutdown()
    assert engine.snapshot().plan == ()  # shut down: nothing is planned any more


def test_ccs_of_one_tick_act_in_the_order_they_came_before_the_clients_commands():
    engine, _ = make(cc={"temperature": 21})
    engine.submit(Set(Control.TEMPERATURE, 1.0))  # the panel's, submitted before the tick
    sweep = [mido.Message("control_change", control=21, value=v) for v in (0, 64, 127)]
    engine.tick([(0.0, m) for m in sweep])
    # The knob's last position, then the panel's command: applied in that order.
    assert engine.sampler.temperature == pytest.approx(1.0)
    engine.tick([(0.0, m) for m in sweep])
    assert engine.sampler.temperature == pytest.approx(2.0)  # the knob ends at 127


# ---- model switch ------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["melody", "poly", "performance"])
def test_switch_model_mid_answer_warms_then_takes_over_without_a_gap(codec):
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 14)
    assert engine.snapshot().phase == "answering"
    c = make_codec(codec, ticks_per_quarter=4)  # the session's grid
    new = Loaded(tiny_model(c, 5), c, {}, Path(f"other_{codec}.pt"))
    engine.switcher.work_on(new)  # the worker thread's job, here in this thread
    ticks = [engine.snapshot().tick]
    for _ in range(20):
        engine.tick([])
        ticks.append(engine.snapshot().tick)
    assert ticks == list(range(ticks[0], ticks[0] + 21))
    assert engine.snapshot().model == f"other_{codec}"
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_a_model_that_cannot_load_is_a_notice_and_the_session_goes_on():
    def loader(name):
        raise FileNotFoundError(f"no such model {name}")

    engine = Engine(loaded(), FakePorts(), LiveConfig(seed=1), loader=loader)
    engine.switcher.work_on("nope")
    engine.tick([])
    s = engine.snapshot()
    assert s.model == "tiny_melody"
    assert any("cannot switch model" in n for n in s.notices)


@pytest.mark.parametrize(("codec", "tpq"), [("performance", 12), ("melody", 2)])
def test_a_model_of_another_grid_takes_over_on_a_shared_tick_line(codec, tpq):
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 13)  # odd: the 2-per-quarter grid must wait one tick
    engine.clock.clock.start(at=50.0)
    c = make_codec(codec, ticks_per_quarter=tpq)
    engine.switcher.work_on(Loaded(tiny_model(c, 5), c, {}, Path(f"grid_{tpq}.pt")))
    beats, times = [], []
    for _ in range(12):
        beats.append(engine.n / engine.tpq)  # the next tick's beat and deadline
        times.append(engine.clock.deadline(engine.n))
        engine.tick([])
    s = engine.snapshot()
    assert s.model == f"grid_{tpq}" and s.ticks_per_quarter == tpq == engine.tpq
    assert any(f"switched to grid_{tpq}" in n for n in s.notices)
    # The beat goes on: each tick is a 16th before the switch and 1/tpq of a beat after,
    # and every deadline stays at its beat's time (0.5 s a beat at 120 BPM).
    steps = set(np.round(np.diff(beats), 6))
    assert round(1 / tpq, 6) in steps and steps <= {0.25, round(1 / tpq, 6)}
    assert np.allclose(np.array(times) - times[0], (np.array(beats) - beats[0]) * 0.5)
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_a_switch_warms_the_new_model_on_everything_that_sounded():
    """The new model, warmed and caught up, is in the state the old one is in.

    A twin of the playing model (same weights) is switched in after less than the warm
    span, so it can hear the whole session: warmed on history that lacks livegen's own
    notes, or not caught up on the ticks that went by while it warmed, its state differs.
    """
    engine, ports = make(response_bars=4)
    # A third twin, fed exactly what the playing one hears.
    ref = engine._player(loaded(), engine.settings.key)
    inner = engine.player.step

    def step(tick, play, n=None):
        out = inner(tick, play, n)
        ref.step(engine.player.heard, play=False)
        return out

    engine.player.step = step
    run_ticks(engine, CALL, 14)  # answering: livegen's own notes are in what sounded
    assert ports.sent, "livegen played nothing: the test would not judge its notes"
    prepared = engine.switcher.prepare(loaded(name="twin"))
    run_ticks(engine, [], 3)  # the ticks that go by while a real worker warms
    engine.switcher.put_back(prepared)
    engine.tick([])  # installs, catches up, steps
    assert engine.snapshot().model == "twin_melody"
    ref.step(engine.player.heard, play=False)
    for got, want in zip(engine.player.state, ref.state, strict=True):
        assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


# ---- defects fixed (each failed on ef7f6d9) ------------------------------------------------
def melody_then_stop(bars: int = 4) -> list[list[mido.Message]]:
    pitches = [60, 62, 64, 65, 67, 69, 71, 72]
    script: list[list[mido.Message]] = []
    for i in range(bars * 8):
        script.append(([off(pitches[(i - 1) % 8])] if i else []) + [on(pitches[i % 8])])
        script.append([])
    return [*script, [off(pitches[(bars * 8 - 1) % 8])]]


@pytest.mark.parametrize("codec", ["melody", "poly", "performance"])
@pytest.mark.parametrize("seed", [0, 2, 3, 5])
def test_accompany_ends_every_note_when_the_musician_stops(codec, seed):
    engine, ports = make(codec, mode="accompany", seed=seed)
    script = melody_then_stop()
    shots = run_ticks(engine, script, len(script) + 12)
    assert shots[-1].phase == "listening"
    assert note_ons([m for m in ports.sent]), "livegen accompanied nothing"
    # Before any shutdown: back to listening means nothing of livegen's sounds.
    assert sounding(ports.sent) == set() and engine.snapshot().open_notes == ()


@pytest.mark.parametrize("cc", [123, 120])
def test_all_notes_off_on_the_input_ends_the_call_and_it_is_answered(cc):
    engine, ports = make()
    script = [*CALL[:-1], [mido.Message("control_change", control=cc, value=0)]]
    shots = run_ticks(engine, script, 30)
    assert "answering" in [s.phase for s in shots]
    assert engine.snapshot().held == ()


def test_after_a_flood_and_all_notes_off_a_clean_call_is_answered():
    import random

    rng = random.Random(3)
    engine, ports = make()
    for _ in range(20):  # random input, pedal and all: a held key or pedal would stay "down"
        engine.tick([(0.0, msg) for msg in _random_messages(rng, 400)])
    all_off = [mido.Message("control_change", channel=c, control=123) for c in range(16)]
    engine.tick([(0.0, m) for m in all_off])
    assert engine.snapshot().held == ()
    shots = run_ticks(engine, CALL, 40)
    assert "answering" in [s.phase for s in shots]


def _random_messages(rng, count):
    out = []
    for _ in range(count):
        kind = rng.choice(["note_on", "note_off", "control_change"])
        if kind == "control_change":
            msg = mido.Message(
                kind, control=rng.choice([1, 7, 64, 64, 11]), value=rng.randrange(128)
            )
        else:
            msg = mido.Message(kind, note=rng.randrange(128), velocity=rng.randrange(128))
        out.append(msg.copy(channel=rng.randrange(16)))
    return out


def test_song_position_and_continue_move_livegens_bar_to_the_daws():
    ports = FakePorts()
    engine = Engine(loaded(), ports, LiveConfig(seed=1, clock="midi", mode="free"))
    pulse = 60 / (120 * 24)
    t = 0.0
    ports.feed(mido.Message("songpos", pos=32), t)  # bar 3 of 4/4 in sixteenths
    ports.feed(mido.Message("continue"), t)
    for _ in range(6 * 3):
        t += pulse
        ports.feed(mido.Message("clock"), t)
    pump(engine)
    s = engine.snapshot()
    assert s.tick == 34 and s.position() == "3.1"


# ---- the loop ----------------------------------------------------------------------------
def test_losing_the_port_ends_the_session_with_an_error_and_notes_off():
    engine, ports = make(mode="free", bpm=300)
    engine.start()
    time.sleep(0.3)
    ports.lose()
    assert engine.wait(5)
    assert "port lost" in (engine.error or "")
    assert not engine.snapshot().running


def test_an_exception_in_a_tick_ends_the_session_with_every_note_off():
    engine, ports = make(mode="free", bpm=300)
    calls = {"n": 0}
    real_step = engine.player.step

    def failing_step(heard, play, n=None):
        calls["n"] += 1
        if calls["n"] == 30:
            raise RuntimeError("boom")
        return real_step(heard, play, n)

    engine.player.step = failing_step
    engine.start()
    assert engine.wait(10)
    assert "boom" in engine.error
    assert note_ons(ports.sent)
    assert sounding(ports.sent) == set()


def test_close_from_another_thread_ends_notes_and_the_loop():
    engine, ports = make(mode="free", bpm=240)
    engine.start()
    deadline = time.monotonic() + 20  # a bound on a hang, not a timing claim
    while engine.snapshot().tick <= 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert note_ons(ports.sent), "nothing was sounding to end"
    closer = threading.Thread(target=engine.close)
    closer.start()
    closer.join(5)
    assert not engine.running
    assert sounding(ports.sent) == set()
    s = engine.snapshot()
    assert s.tick > 5 and s.open_notes == ()


def test_ticks_keep_fixed_deadlines_and_a_stall_is_counted_not_rushed():
    now = [0.0]
    starts: list[tuple[int, float]] = []

    def fake_now():
        return now[0]

    def fake_sleep(s):
        now[0] += max(s, 1e-4)
        if engine.n == 10 and not stalled:
            stalled.append(True)
            now[0] += 0.5  # the machine stalls for four ticks
        if engine.n >= 20:
            engine._stop.set()

    stalled: list[bool] = []
    ports = FakePorts()
    cfg = LiveConfig(seed=1, mode="free", bpm=120)  # 0.125 s per tick
    engine = Engine(loaded(), ports, cfg, now=fake_now, sleep=fake_sleep)
    inner = engine.tick

    def tick(inbox=None):
        starts.append((engine.n, now[0]))
        inner(inbox)

    engine.tick = tick
    engine._loop()
    deadline = engine.clock.deadline
    # Every tick ran on its own deadline, computed from the start, never from the last
    # wake-up: a clock that sleeps a period after each tick drifts by the spin and the step.
    after_stall = min(n for n, _ in starts if n > 10)  # reached late, by design
    for n, t in starts:
        if n != after_stall:
            assert deadline(n) <= t < deadline(n) + 0.0005, (n, t - deadline(n))
    assert [n for n, _ in starts][:10] == list(range(10))
    started = {n for n, _ in starts}
    # The stall came while waiting for tick 10: the ticks it swallowed are skipped, not
    # rushed out late one after another.
    assert {10, 11, 12}.isdisjoint(started) and 13 in started
    assert engine.late_ticks >= 3


def test_snapshot_is_frozen():
    engine, _ = make()
    with pytest.raises(AttributeError):
        engine.snapshot().tick = 5  # type: ignore[misc]


def pump(engine: Engine) -> None:
    """Drain the input and act on every clock event it held (the loop's job, without waiting)."""
    engine._between()
    while engine.clock._events:
        engine.on_clock(engine.clock._events.popleft())


def test_midi_clock_drives_ticks_and_stop_silences_at_once():
    ports = FakePorts()
    engine = Engine(loaded(), ports, LiveConfig(seed=1, clock="midi", mode="free"))
    t = 0.0
    ports.feed(mido.Message("start"), t)
    for _ in range(6 * 20):  # 20 ticks of 24-per-quarter pulses at 120 BPM
        t += 60 / (120 * 24)
        ports.feed(mido.Message("clock"), t)
    pump(engine)
    s = engine.snapshot()
    assert s.tick == 19
    assert s.bpm == pytest.approx(120, rel=0.01)
    assert note_ons(ports.sent)
    ports.feed(mido.Message("stop"), t)
    pump(engine)
    assert sounding(ports.sent) == set()
    assert engine.snapshot().phase == "stopped"
    count = len(ports.sent)
    ports.feed(mido.Message("continue"), t)
    for _ in range(12):
        t += 60 / (120 * 24)
        ports.feed(mido.Message("clock"), t)
    pump(engine)
    assert engine.snapshot().tick == 21 and engine.snapshot().playing
    assert note_ons(ports.sent[count:]), "livegen did not play again after Continue"


# ---- style ------------------------------------------------------------------------------
STYLES = ("folk", "chorales", "fiddle")


def style_loaded(name: str = "styled") -> Loaded:
    from livegen.model import LSTMModel, ModelConfig

    codec = make_codec("poly")
    torch.manual_seed(3)
    model = LSTMModel(ModelConfig(codec.vocab_size, n_hidden=24, n_embd=8, styles=STYLES))
    return Loaded(model.eval(), codec, {}, Path(f"{name}.pt"))


class StepLog:
    """Wraps the player's stepper: each call's tick, the state it was given, the style on."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.inner = engine, engine.player.stepper
        self.calls: list[tuple[int, torch.Tensor, np.ndarray]] = []
        engine.player.stepper = self

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, x, state, pos=0):
        self.calls.append((self.engine.n, state.h.clone(), self.inner.style.copy()))
        return self.inner(x, state, pos)

    def at(self, n: int):
        return [c for c in self.calls if c[0] == n]


def test_a_style_set_between_ticks_plays_from_the_next_tick_with_the_state_kept():
    # Free play: what sounds is what was planned, so the player would take the plan's fork
    # (stepped at tick 5 in the old style) as its state at tick 6 if the change let it.
    engine = Engine(style_loaded(), FakePorts(), LiveConfig(seed=1, mode="free"))
    run_ticks(engine, [], 5)
    log = StepLog(engine)
    engine.tick([])  # tick 5, in the first style
    kept = engine.player.state.h.clone()  # the state after tick 5: tick 6 must start from it
    assert kept.abs().sum() > 0
    engine.submit(Set(Control.STYLE_B, 2))
    engine.submit(Set(Control.STYLE_MIX, 0.25))
    engine.tick([])  # tick 6
    assert all(np.array_equal(w, [1, 0, 0]) for _, _, w in log.at(5))
    six = log.at(6)
    assert six, "tick 6 stepped nothing"
    # Every step of tick 6 is in the new mix (a change a tick late would fail here)...
    assert all(np.allclose(w, [0.75, 0, 0.25]) for _, _, w in six)
    # ...and its first step starts from the state tick 5 left (a reset would fail here).
    assert torch.equal(six[0][1], kept)
    shot = engine.snapshot()
    assert (shot.styles, shot.style, shot.style_b, shot.style_mix) == (STYLES, 0, 2, 0.25)


def test_a_style_command_for_a_model_without_styles_is_a_notice():
    engine, ports = make()
    engine.submit(Set(Control.STYLE, 1))
    engine.submit(Do(Action.NEXT_STYLE))
    run_ticks(engine, CALL, 3)
    shot = engine.snapshot()
    assert shot.styles == () and shot.style == 0
    assert sum("no style input" in n for n in shot.notices) == 2
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_a_hot_switch_between_a_style_model_and_another_keeps_the_style_setting():
    engine = Engine(style_loaded(), FakePorts(), LiveConfig(seed=1, mode="free", style=1))
    ports = engine.ports
    assert np.array_equal(engine.player.stepper.style, [0, 1, 0])
    run_ticks(engine, [], 6)
    engine.switcher.work_on(loaded("poly"))  # a model without styles
    run_ticks(engine, [], 6)
    assert engine.snapshot().styles == () and engine.settings.style == 1
    engine.switcher.work_on(style_loaded("styled_again"))
    run_ticks(engine, [], 6)
    shot = engine.snapshot()
    assert shot.model == "styled_again" and shot.styles == STYLES and shot.style == 1
    assert np.array_equal(engine.player.stepper.style, [0, 1, 0])
    assert note_ons(ports.sent)
    engine.shutdown()
    assert sounding(ports.sent) == set()
