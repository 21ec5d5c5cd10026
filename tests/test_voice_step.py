"""A parts model in the engine, on a manual clock against fake ports (tests/fakes.py):
livegen's part of tick n sounds at tick n, harmonize answers a note-on from its table before
the tick comes, and every note livegen sends ends through every path. The model is a tiny
random-weight one of the chorale_harmony shape (yours soprano, mono; mine three voices)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import mido
import pytest

from livegen.checkpoint import Loaded
from livegen.controls import Action, Control, Do, Set
from livegen.engine import Engine
from livegen.live_config import LiveConfig
from livegen.modes import Mode
from livegen.parts_player import PartsPlayer
from livegen.player import Player
from tests.codecs.shapes import HARMONY
from tests.fakes import FakePorts, sounding
from tests.test_engine import loaded, note_ons, off, on
from tests.test_player import tiny_model

MELODY = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 67]  # soprano, one per quarter


def parts_loaded(seed: int = 0, name: str = "tiny_harmony") -> Loaded:
    return Loaded(tiny_model(HARMONY, seed), HARMONY, {}, Path(f"{name}.pt"))


def make(mode: str = "harmonize", seed: int = 1, **cfg) -> tuple[Engine, FakePorts]:
    ports = FakePorts()
    settings = {"seed": seed, "silence_ticks": 4, "mode": mode, "temperature": 1.0, **cfg}
    return Engine(parts_loaded(), ports, LiveConfig(**settings)), ports


def script(melody=MELODY, every: int = 4) -> dict[int, list[mido.Message]]:
    """The melody between ticks: tick ``k * every`` hears its note-on (legato, off with it)."""
    out: dict[int, list[mido.Message]] = {}
    for k, p in enumerate(melody):
        out[k * every] = ([off(melody[k - 1])] if k else []) + [on(p)]
    out[len(melody) * every] = [off(melody[-1])]
    return out


def between(engine: Engine, ports: FakePorts, msgs) -> list[mido.Message]:
    """Messages arrive before the next tick; what livegen sent at once (not at the tick)."""
    before = len(ports.sent)
    for m in msgs:
        ports.feed(m)
    engine._between()
    return ports.sent[before:]


def tick(engine: Engine, ports: FakePorts) -> list[mido.Message]:
    before = len(ports.sent)
    engine.tick()
    return ports.sent[before:]


def play(engine, ports, ticks: int, melody=MELODY, every: int = 4):
    """Per tick: (what went out between the ticks, what went out at the tick)."""
    notes = script(melody, every)
    return [(between(engine, ports, notes.get(n, [])), tick(engine, ports)) for n in range(ticks)]


def harmony_of(sent) -> set[int]:
    return {m.note for m in note_ons(sent)}


# ---- a parts model in the engine -------------------------------------------------------
def test_the_engine_gives_a_parts_model_a_parts_player_and_a_single_stream_one_a_player():
    assert type(make("accompany")[0].player) is PartsPlayer
    engine = Engine(loaded("poly"), FakePorts(), LiveConfig(seed=1))
    assert type(engine.player) is Player


def test_accompany_sounds_livegens_part_of_tick_n_at_tick_n():
    """Mutant check: planning for n + 1 (the single-stream path) would send nothing at 0."""
    engine, ports = make("accompany")
    out = play(engine, ports, 60)
    first = next(n for n, (_, at) in enumerate(out) if note_ons(at))
    assert first == 0, "livegen's part of the first tick heard did not sound with it"
    assert all(not note_ons(early) for early, _ in out), "accompany sends only at the tick"
    # The melody ends at tick 48; after silence_ticks livegen's notes end with it.
    assert sounding(ports.sent) == set()
    assert engine.snapshot().phase == "listening"


@pytest.mark.parametrize("mode", ["continue", "free"])
def test_continue_and_free_play_a_parts_model_and_end_every_note(mode):
    engine, ports = make(mode, response_bars=1)
    out = play(engine, ports, 80, MELODY[:4])
    ons = [n for n, (_, at) in enumerate(out) if note_ons(at)]
    assert ons, f"{mode} played nothing"
    if mode == "continue":  # the call is 16 ticks; the answer starts after 4 silent ticks
        assert min(ons) >= 16 + 3 and engine.snapshot().phase == "listening"
        assert sounding(ports.sent) == set()
    engine.shutdown()
    assert sounding(ports.sent) == set()


# ---- harmonize ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_harmonize_answers_every_note_on_at_once_from_the_table(seed):
    """Each melody note-on gets livegen's harmony before the tick (mutant: a tick late)."""
    engine, ports = make(seed=seed)
    notes = script([72, 74, 76, 74, 72, 69, 71, 72, 79, 77, 76, 74], every=3)
    out = []
    for n in range(50):
        out.append((between(engine, ports, notes.get(n, [])), tick(engine, ports)))
        if engine.snapshot().phase == "accompanying":
            # What the model hears as its own part is exactly what sounds on the wire.
            on_wire = {p for _, p in sounding(ports.sent)}
            assert engine.player.stream.mine == engine.player.sounding == on_wire, n
    answered = 0
    for n, (early, at) in enumerate(out):
        if any(m.type == "note_on" and m.velocity for m in notes.get(n, [])):
            answered += bool(note_ons(early))
            # Adopted at the tick, not stepped again: nothing the row sent is struck twice.
            assert not harmony_of(early) & harmony_of(at)
        else:
            assert not note_ons(early), "livegen sent between ticks without a note-on"
    # A random tiny model may hold its chord through a note: most notes strike something.
    assert answered >= len(MELODY) // 2, answered
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_harmonize_adopts_the_row_that_fired_instead_of_stepping():
    engine, ports = make(seed=2)
    play(engine, ports, 4)
    table = engine.voice_step.table
    assert table is not None and table.tick == engine.n
    early = between(engine, ports, [off(72), on(74)])
    row = table.rows[74 - HARMONY.your_part.low]
    assert harmony_of(early) == {p for p, _ in row.mine.ons}
    steps = []
    real = engine.player.step_parts
    engine.player.step_parts = lambda *a, **k: steps.append(a) or real(*a, **k)
    tick(engine, ports)
    assert steps == [], "the fired row's tick was stepped again"
    assert engine.player.stream.yours == {74}
    assert engine.player.stream.mine == row.stream.mine


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_a_higher_note_in_the_same_tick_replaces_the_harmony_and_a_lower_one_does_not(seed):
    engine, ports = make(seed=seed)
    play(engine, ports, 4)
    first = between(engine, ports, [off(72), on(69)])
    fired = engine.voice_step.fired
    lower = between(engine, ports, [on(65)])
    assert lower == [] and engine.voice_step.fired == fired  # a lower note of a chord: no row
    higher = between(engine, ports, [on(76)])
    assert engine.voice_step.fired == 76 - HARMONY.your_part.low
    # The first row's notes that the second does not play end at once.
    gone = (
        harmony_of(first)
        - harmony_of(higher)
        - {p for p, _ in engine.voice_step.table.rows[engine.voice_step.fired].mine.ons}
    )
    assert gone <= {m.note for m in higher if m.type == "note_off"}
    tick(engine, ports)
    assert engine.player.stream.yours == {76}  # the highest is the melody
    on_wire = {p for _, p in sounding(ports.sent)}  # the state heard what both rows sent
    assert engine.player.stream.mine == engine.player.sounding == on_wire
    notices = engine.snapshot().notices
    assert sum("chord" in t for t in notices) == 1
    between(engine, ports, [off(65), off(69), off(76)])
    for _ in range(12):  # the musician stopped: livegen's notes end after the silence
        tick(engine, ports)
    assert sounding(ports.sent) == set()


def test_hold_and_silence_sound_at_the_ticks_deadline():
    engine, ports = make(seed=4)
    out = play(engine, ports, 30, [72, 74], every=8)
    # Ticks 1..7 hold 72, 9..15 hold 74: their rows sound at the tick, none early.
    assert all(not note_ons(early) for n, (early, _) in enumerate(out) if n % 8)
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_a_note_outside_your_range_folds_and_is_said_once():
    engine, ports = make(seed=1)
    play(engine, ports, 2)
    early = between(engine, ports, [on(72 + 24)])  # folds down into 60..81
    assert engine.voice_step.fired == 72 + 24 - 24 - HARMONY.your_part.low
    assert early is not None
    tick(engine, ports)
    between(engine, ports, [off(96), on(98)])
    tick(engine, ports)
    assert sum("fold by octaves" in t for t in engine.snapshot().notices) == 1


def test_harmonize_with_a_single_stream_model_says_so_once_and_accompanies():
    ports = FakePorts()
    engine = Engine(loaded("melody"), ports, LiveConfig(seed=1, mode="harmonize"))
    out = play(engine, ports, 40)
    assert all(not note_ons(early) for early, _ in out)  # no table: answers a tick later
    assert any(note_ons(at) for _, at in out)
    assert sum("harmonize needs a parts model" in t for t in engine.snapshot().notices) == 1
    engine.shutdown()
    assert sounding(ports.sent) == set()


# ---- no note left sounding -----------------------------------------------------------------
def fire(engine, ports, seed_ticks: int = 8) -> int:
    """Play until a note-on's harmony went out between ticks; the melody note struck."""
    notes = script()
    for n in range(60):
        early = between(engine, ports, notes.get(n, []))
        if note_ons(early) and n >= seed_ticks:
            return next(m.note for m in notes[n] if m.type == "note_on")
        tick(engine, ports)
    raise AssertionError("no harmony was sent between ticks")


def stop_playing(engine, ports, note: int) -> None:
    """The musician lets go: livegen's notes must all end by themselves (no shutdown)."""
    between(engine, ports, [off(note)])
    for _ in range(12):
        tick(engine, ports)


@pytest.mark.parametrize(
    "command",
    [Do(Action.PANIC), Do(Action.RESET), Do(Action.STOP), Set(Control.MODE, Mode.ACCOMPANY),
     Set(Control.CHANNEL, 3)],
    ids=lambda c: repr(c)[:30],
)  # fmt: skip
def test_every_command_that_ends_notes_ends_the_harmony_sent_before_its_tick(command):
    engine, ports = make(seed=2)
    note = fire(engine, ports)
    engine.submit(command)
    tick(engine, ports)
    stop_playing(engine, ports, note)
    assert sounding(ports.sent) == set(), command


@pytest.mark.parametrize("other", ["poly", "melody", "parts"])
def test_a_switch_right_after_a_harmony_went_out_ends_it_and_loses_no_tick(other):
    engine, ports = make(seed=2)
    note = fire(engine, ports)
    new = parts_loaded(5, "other_harmony") if other == "parts" else loaded(other, 5, "other")
    engine.switcher.work_on(new)
    ticks = [engine.n]
    for _ in range(6):
        tick(engine, ports)
        ticks.append(engine.n)
    assert ticks == list(range(ticks[0], ticks[0] + 7))
    assert engine.snapshot().model.startswith("other")
    stop_playing(engine, ports, note)
    assert sounding(ports.sent) == set()


@pytest.mark.parametrize("codec", ["poly", "melody"])
def test_a_switch_from_a_single_stream_model_to_a_parts_model_mid_accompaniment(codec):
    ports = FakePorts()
    engine = Engine(loaded(codec), ports, LiveConfig(seed=1, mode="accompany", silence_ticks=4))
    play(engine, ports, 12)
    engine.switcher.work_on(parts_loaded(3))
    out = play(engine, ports, 30)
    assert type(engine.player) is PartsPlayer
    assert any(note_ons(at) for _, at in out[2:]), "the parts model did not play after"
    engine.submit(Set(Control.MODE, Mode.HARMONIZE))
    out = play(engine, ports, 40)
    assert any(note_ons(early) for early, _ in out), "harmonize sent nothing at a note-on"
    stop_playing(engine, ports, MELODY[(40 // 4 - 1) % len(MELODY)])
    assert sounding(ports.sent) == set()


def test_transport_stop_between_the_harmony_and_its_tick_ends_it_at_once():
    engine, ports = make(seed=2)
    assert fire(engine, ports)
    engine._stop_now()  # an external clock's Stop: no tick may come
    assert sounding(ports.sent) == set()
    tick(engine, ports)
    assert sounding(ports.sent) == set()


def test_close_between_the_harmony_and_its_tick_ends_it():
    engine, ports = make(seed=2)
    assert fire(engine, ports)
    engine.close()
    assert sounding(ports.sent) == set()


def test_an_exception_in_the_table_ends_the_session_with_every_note_off(monkeypatch):
    """The engine's loop builds tables in the worker: a failure there ends it too."""
    from livegen.harmonize import Planner

    calls = {"n": 0}
    real = Planner.build

    def failing(planner, job, *going):
        calls["n"] += 1
        if calls["n"] == 40:
            raise RuntimeError("boom")
        return real(planner, job, *going)

    monkeypatch.setattr(Planner, "build", failing)
    engine, ports = make(seed=2, bpm=300)
    stop = threading.Event()

    def musician():  # a melody into the running engine, between its ticks
        for k in range(400):
            if stop.is_set():
                return
            ports.feed(on(MELODY[k % len(MELODY)]))
            time.sleep(0.03)
            ports.feed(off(MELODY[k % len(MELODY)]))

    player = threading.Thread(target=musician, daemon=True)
    engine.start()
    player.start()
    assert engine.wait(20)
    stop.set()
    player.join(5)
    assert "boom" in (engine.error or "")
    assert note_ons(ports.sent)
    assert sounding(ports.sent) == set()


def test_regenerate_with_a_parts_model_ends_the_answer_and_answers_afresh():
    engine, ports = make("continue", response_bars=2)
    play(engine, ports, 24, MELODY[:4])  # the call ends at 16; the answer begins at 19
    assert engine.snapshot().phase == "answering"
    engine.submit(Do(Action.REGENERATE))
    tick(engine, ports)
    out = []
    for _ in range(12):  # the model hears as its own exactly what livegen sounds: no ghosts
        out.append(tick(engine, ports))
        assert engine.player.stream.mine == engine.player.sounding
        assert {p for _, p in sounding(ports.sent)} == engine.player.sounding
    assert engine.snapshot().phase == "answering" and any(note_ons(o) for o in out)
    for _ in range(40):
        tick(engine, ports)
    assert sounding(ports.sent) == set()


def test_free_plays_a_parts_model_on_from_a_primer():
    import numpy as np

    primer = np.array([[72.0, 0.0, 1.0, 90.0], [60.0, 0.0, 1.0, 90.0], [74.0, 1.0, 2.0, 90.0]])
    ports = FakePorts()
    engine = Engine(parts_loaded(), ports, LiveConfig(seed=1, mode="free"), primer=primer)
    engine.prime()
    assert engine.n == 9 and not ports.sent  # 8 ticks and the last release; none sounds live
    assert any(note_ons(tick(engine, ports)) for _ in range(20))
    engine.shutdown()
    assert sounding(ports.sent) == set()


def test_the_table_is_planned_at_normal_priority(monkeypatch):
    """A 20-50 ms build at SCHED_FIFO starved jackd's clients (xruns, lost note-offs)."""
    import contextlib

    import livegen.voice_step as voice_step
    from livegen.harmonize import Planner

    inside: list[bool] = []
    seen: list[bool] = []
    real_plan = Planner.plan

    @contextlib.contextmanager
    def normal():
        inside.append(True)
        yield
        inside.pop()

    def planning(planner, n):
        seen.append(bool(inside))
        return real_plan(planner, n)

    monkeypatch.setattr(voice_step, "normal_priority", normal)
    monkeypatch.setattr(Planner, "plan", planning)
    engine, ports = make()
    play(engine, ports, 12)
    assert seen and all(seen), seen


# ---- the sampling guards -----------------------------------------------------------------
@pytest.mark.parametrize("guards", [True, False])
def test_harmonize_keeps_the_bass_in_its_range_between_and_at_the_ticks_when_guarded(guards):
    """The table (between ticks) and the step (at them) sample under the same guards: the
    lowest of livegen's notes stays in the bass range; unguarded, this random model strays."""
    engine, ports = make(seed=2, guards=guards)
    assert (engine.player.guards is not None) is guards
    notes, strays = script(), 0
    for n in range(48):
        for _ in (between(engine, ports, notes.get(n, [])), tick(engine, ports)):
            low = min((p for _, p in sounding(ports.sent)), default=None)
            strays += low is not None and not 40 <= low <= 62
    assert (strays == 0) is guards
    stop_playing(engine, ports, MELODY[(48 // 4 - 1) % len(MELODY)])
    assert sounding(ports.sent) == set()


def test_the_guards_setting_holds_live_and_across_a_switch():
    engine, ports = make(seed=2)
    engine.submit(Set(Control.GUARDS, False))
    play(engine, ports, 4)
    assert engine.player.guards is None
    engine.switcher.work_on(parts_loaded(5, "other_harmony"))  # a new player: guards on...
    for _ in range(6):
        tick(engine, ports)
    assert engine.snapshot().model.startswith("other")
    assert engine.player.guards is None, "...until the session's setting says otherwise"
    engine.submit(Set(Control.GUARDS, True))
    tick(engine, ports)
    assert engine.player.guards is not None
