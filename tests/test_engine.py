"""The engine's tick logic on a manual clock: ``Engine.tick`` is called by hand with the
input of each tick, against fake ports that record what is sent (tests/fakes.py). Real
ports and a real clock are in tests/integration/test_engine.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import mido
import pytest

from livegen.checkpoint import Loaded
from livegen.codecs import make_codec
from livegen.engine import Engine, Snapshot
from livegen.live_config import LiveConfig
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
    engine.end_call()
    engine.tick([])
    assert engine.snapshot().phase == "answering"


def test_state_carries_across_phrases_and_reset_clears_it():
    engine, _ = make()
    run_ticks(engine, CALL, 30)
    assert engine.player.heard_anything
    engine.reset()
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
    engine.set_mode("accompany")
    assert engine.mode == "continue"  # nothing changes between ticks
    engine.tick([])
    assert engine.mode == "accompany"
    engine.tick([])
    assert sounding(ports.sent) == set()


# ---- controls ----------------------------------------------------------------------------
def test_controls_apply_at_the_next_tick():
    engine, _ = make()
    engine.set_temperature(0.3)
    engine.set_response_bars(3)
    engine.set_velocity("fixed")
    assert engine.sampler.temperature == pytest.approx(0.9)
    engine.tick([])
    s = engine.snapshot()
    assert s.temperature == pytest.approx(0.3)
    assert s.response_bars == 3
    assert s.velocity == "fixed"


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("set_temperature", (-1,)),
        ("set_tempo", (0,)),
        ("set_mode", ("jam",)),
        ("set_channel", (16,)),
        ("set_key", ("H major",)),
        ("set_velocity", ("loud",)),
        ("set_response_bars", (-1,)),
        ("learn", ("volume",)),
    ],
)
def test_bad_control_values_are_refused_in_the_callers_thread(call, args):
    engine, _ = make()
    with pytest.raises(ValueError):
        getattr(engine, call)(*args)


def test_tempo_change_moves_the_next_deadline_only():
    engine, _ = make(bpm=120)
    clock = engine.clock
    clock.start(at=100.0)
    clock.last_tick = 3
    before = clock.deadline(3)
    engine.set_tempo(60)
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
    engine.set_channel(3)
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
    engine._poll_input()  # pass-through sends the musician's note at once
    run_ticks(engine, CALL, 20)
    engine.panic()
    engine.tick([])
    assert ports.panics == 1
    assert engine.snapshot().open_notes == ()
    assert sounding(ports.sent) == set()
    assert engine.snapshot().phase == "listening"


def test_stop_silences_and_play_resumes():
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 14)
    engine.stop()
    engine.tick([])
    engine.tick([])
    assert engine.snapshot().phase == "stopped"
    assert sounding(ports.sent) == set()
    count = len(ports.sent)
    run_ticks(engine, CALL, 20)
    assert len(ports.sent) == count  # stopped: nothing goes out
    engine.play()
    engine.tick([])
    assert engine.snapshot().playing


def test_regenerate_replays_the_answer_from_where_it_started():
    engine, ports = make(response_bars=2)
    run_ticks(engine, CALL, 20)
    assert engine.snapshot().phase == "answering"
    engine.regenerate()
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
    engine._poll_input()
    assert [(m.type, m.note, m.channel) for m in ports.sent] == [("note_on", 61, 2)]
    ports.feed(off(61))
    engine._poll_input()
    assert sounding(ports.sent) == set()


def test_cc_mapping_and_learn():
    engine, _ = make(cc={"temperature": 21})
    engine.tick([(0.0, mido.Message("control_change", control=21, value=127))])
    assert engine.sampler.temperature == pytest.approx(2.0)
    engine.learn("panic")
    engine.tick([])
    engine.tick([(0.0, mido.Message("control_change", control=30, value=5))])
    assert dict(engine.snapshot().cc_map)["panic"] == 30
    panics = engine.ports.panics
    engine.tick([(0.0, mido.Message("control_change", control=30, value=127))])
    assert engine.ports.panics == panics + 1


# ---- model switch ------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["melody", "poly", "performance"])
def test_switch_model_mid_answer_warms_then_takes_over_without_a_gap(codec):
    engine, ports = make(response_bars=4)
    run_ticks(engine, CALL, 14)
    assert engine.snapshot().phase == "answering"
    c = make_codec(codec, ticks_per_quarter=4)  # the session's grid
    new = Loaded(tiny_model(c, 5), c, {}, Path(f"other_{codec}.pt"))
    engine._prepare_switch(new)  # the helper thread's work, here in this thread
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
    engine._prepare_switch("nope")
    engine.tick([])
    s = engine.snapshot()
    assert s.model == "tiny_melody"
    assert any("cannot switch model" in n for n in s.notices)


def test_a_different_tick_grid_is_refused_with_a_notice():
    engine, _ = make()
    codec = make_codec("melody", ticks_per_quarter=2)
    other = Loaded(tiny_model(codec), codec, {}, Path("coarse.pt"))
    engine._prepare_switch(other)
    engine.tick([])
    assert any("restart livegen" in n for n in engine.snapshot().notices)


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

    def failing_step(heard, play):
        calls["n"] += 1
        if calls["n"] == 30:
            raise RuntimeError("boom")
        return real_step(heard, play)

    engine.player.step = failing_step
    engine.start()
    assert engine.wait(10)
    assert "boom" in engine.error
    assert note_ons(ports.sent)
    assert sounding(ports.sent) == set()


def test_close_from_another_thread_ends_notes_and_the_loop():
    engine, ports = make(mode="free", bpm=240)
    engine.start()
    time.sleep(0.5)
    closer = threading.Thread(target=engine.close)
    closer.start()
    closer.join(5)
    assert not engine.running
    assert sounding(ports.sent) == set()
    s = engine.snapshot()
    assert s.tick > 5 and s.open_notes == ()


def test_ticks_keep_fixed_deadlines_and_a_stall_is_counted_not_rushed():
    now = [0.0]
    engine, _ = make(mode="free", bpm=120)  # 0.125 s per tick

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
    engine._now = engine.clock._now = fake_now
    engine._sleep = engine.clock._sleep = fake_sleep
    engine.ports.alive = lambda: True
    engine._run_internal_clock()
    assert engine.late_ticks >= 3
    assert engine.n >= 20


def test_snapshot_is_frozen():
    engine, _ = make()
    with pytest.raises(AttributeError):
        engine.snapshot().tick = 5  # type: ignore[misc]


def test_midi_clock_drives_ticks_and_stop_silences_at_once():
    ports = FakePorts()
    engine = Engine(loaded(), ports, LiveConfig(seed=1, clock="midi", mode="free"))
    t = 0.0
    ports.feed(mido.Message("start"), t)
    for _ in range(6 * 20):  # 20 ticks of 24-per-quarter pulses at 120 BPM
        t += 60 / (120 * 24)
        ports.feed(mido.Message("clock"), t)
    engine._poll_input()
    s = engine.snapshot()
    assert s.tick == 19
    assert s.bpm == pytest.approx(120, rel=0.01)
    assert note_ons(ports.sent)
    ports.feed(mido.Message("stop"), t)
    engine._poll_input()
    assert sounding(ports.sent) == set()
    assert engine.snapshot().phase == "stopped"
    count = len(ports.sent)
    ports.feed(mido.Message("continue"), t)
    for _ in range(12):
        t += 60 / (120 * 24)
        ports.feed(mido.Message("clock"), t)
    engine._poll_input()
    assert engine.snapshot().tick == 21 and engine.snapshot().playing
    assert len(ports.sent) >= count
