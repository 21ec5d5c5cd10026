"""Session recording: the tempo map, the writer, atomic finish, recovery of a cut journal,
and the engine's hooks (what left the port, the musician's input, controls as markers), on
a manual clock with fake ports (tests/fakes.py). Real JACK ports and a SIGKILLed engine are
in tests/integration/test_recording.py."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import mido
import pytest

from livegen import journal
from livegen.controls import Action, Control, Do, Set
from livegen.engine import Engine
from livegen.journal import TICKS_PER_BEAT, RecordingError, TempoMap
from livegen.live_config import LiveConfig
from livegen.midifile import read_midi
from livegen.recording import Recording
from tests.fakes import FakePorts
from tests.test_engine import CALL, loaded, off, on


class Clock:
    """A manual perf_counter."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def tracks(path: Path) -> dict[str, list[tuple[int, mido.Message]]]:
    """Each track's messages by name, at absolute MIDI ticks."""
    out = {}
    for track in mido.MidiFile(path).tracks:
        now, rows, name = 0, [], None
        for msg in track:
            now += msg.time
            if msg.type == "track_name":
                name = msg.name
            rows.append((now, msg))
        out[name] = rows
    return out


def notes(rows) -> list[tuple[str, int, int]]:
    """``(on|off, pitch, channel)`` of a track's note messages, in order."""
    out = []
    for _, m in rows:
        if m.type in ("note_on", "note_off"):
            kind = "on" if m.type == "note_on" and m.velocity > 0 else "off"
            out.append((kind, m.note, m.channel))
    return out


def wait_for(check, timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds (the writer thread's work is asynchronous)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the recorder's writer did not get there"
        time.sleep(0.01)


# ---- the tempo map -------------------------------------------------------------------------
def test_tempo_map_places_wall_seconds_at_each_tempo():
    tempo = TempoMap(120.0, [(2.0, 60.0), (4.0, 240.0)])
    assert tempo.tick(1.0) == 2 * TICKS_PER_BEAT  # 120 BPM: two beats a second
    assert tempo.tick(2.0) == 4 * TICKS_PER_BEAT
    assert tempo.tick(3.0) == 5 * TICKS_PER_BEAT  # then 60 BPM: one a second
    assert tempo.tick(4.5) == 6 * TICKS_PER_BEAT + 2 * TICKS_PER_BEAT
    assert tempo.tick(-0.5) == 0  # input stamped just before the take began
    for seconds in (0.3, 2.5, 5.25):
        assert tempo.seconds(tempo.tick(seconds)) == pytest.approx(seconds, abs=0.002)


# ---- the recorder alone --------------------------------------------------------------------
def test_a_take_holds_both_parts_the_tempo_map_and_markers(tmp_path):
    sent: list[mido.Message] = []
    clock = Clock()
    target = tmp_path / "take.mid"
    rec = Recording(target, sent.append, bpm=120.0, beats_per_bar=4, now=clock)
    rec.hear([], 120.0)  # the first tick begins the take at t = 100
    clock.t = 100.5
    rec.hear(
        [(100.25, on(60)), (100.5, mido.Message("control_change", control=64, value=127))], 120
    )
    rec.send(mido.Message("note_on", channel=2, note=72, velocity=90))
    rec.send(mido.Message("clock"))  # transport is the tempo map's job, not a track's
    clock.t = 101.0
    rec.hear([(101.0, off(60))], 90.0)  # the tempo changed at t = 1 s
    rec.send(mido.Message("note_off", channel=2, note=72))
    rec.send(mido.Message("note_on", channel=2, note=74, velocity=90))  # still on at the stop
    rec.applied(_settings(), _settings(temperature=0.5), _effect())
    clock.t = 102.0
    rec.hear([], 90.0)  # the next tick: the snapshot counts what came since the last
    assert rec.state is not None and rec.state.active and rec.state.events == 6
    rec.close()
    assert rec.state is not None and not rec.state.active
    assert not journal.journal_path(target).exists()
    got = tracks(target)
    assert list(got) == ["conductor", "you", "livegen"]
    assert notes(got["you"]) == [("on", 60, 0), ("off", 60, 0)]
    assert [t for t, m in got["you"] if m.type == "note_on"] == [240]  # 0.25 s at 120 BPM
    assert [t for t, m in got["you"] if m.type == "note_off"] == [960]  # 1 s: two beats
    assert [m.value for _, m in got["you"] if m.type == "control_change"] == [127]
    # The note left sounding at the stop ends there: nothing hangs in the file.
    assert notes(got["livegen"]) == [("on", 72, 2), ("off", 72, 2), ("on", 74, 2), ("off", 74, 2)]
    assert got["livegen"][-2][0] == 960 + 1 * 90 * TICKS_PER_BEAT // 60  # 1 s more at 90 BPM
    tempos = [
        (t, round(mido.tempo2bpm(m.tempo), 3)) for t, m in got["conductor"] if m.type == "set_tempo"
    ]
    assert tempos == [(0, 120.0), (960, 90.0)]
    markers = [m.text for _, m in got["conductor"] if m.type == "marker"]
    assert markers == ["temperature 0.5"]
    assert sent[1].type == "clock"  # everything was sent, whether recorded or not


def _settings(**changes):
    from livegen.controls import Settings

    return Settings(**changes)


def _effect(**fields):
    from livegen.controls import Effect

    return Effect(**fields)


def test_a_recording_never_overwrites_a_file(tmp_path):
    target = tmp_path / "take.mid"
    target.write_bytes(b"an earlier take")
    rec = Recording(target, lambda m: None, bpm=120.0, beats_per_bar=4)
    rec.hear([], 120.0)
    rec.send(mido.Message("note_on", note=60, velocity=80))
    rec.close()
    assert target.read_bytes() == b"an earlier take"
    assert tracks(tmp_path / "take-2.mid")["livegen"]


@pytest.mark.parametrize(
    ("name", "words"),
    [("nowhere/take.mid", "does not exist"), ("take.wav", "MIDI file"), ("dir.mid", "folder")],
)
def test_a_target_that_cannot_be_a_recording_is_one_line(tmp_path, name, words):
    (tmp_path / "dir.mid").mkdir()
    with pytest.raises(RecordingError, match=words) as err:
        Recording(tmp_path / name, lambda m: None, bpm=120.0, beats_per_bar=4)
    assert "\n" not in str(err.value)


def test_the_journal_is_flushed_while_the_take_records(tmp_path):
    """Without a stop (as when the process is killed), the journal reaches the disk."""
    target = tmp_path / "take.mid"
    rec = Recording(target, lambda m: None, bpm=240.0, beats_per_bar=4)
    rec.hear([], 240.0)
    for p in range(60, 70):
        rec.send(mido.Message("note_on", note=p, velocity=80))
    left = journal.journal_path(target)
    wait_for(lambda: left.exists() and left.read_text().count("\n") >= 11)
    crashed = tmp_path / "crashed" / "take.mid.journal"
    crashed.parent.mkdir()
    shutil.copy(left, crashed)  # the journal as a kill at this moment would leave it
    rec.close()
    path, events, cut = journal.recover(crashed.parent / "take.mid")
    assert (path, events, cut) == (crashed.parent / "take.mid", 10, 0)
    assert not crashed.exists()


# ---- recovery and atomic finish ------------------------------------------------------------
def test_recovery_of_a_cut_journal_keeps_every_whole_line(tmp_path):
    target = tmp_path / "take.mid"
    text = journal.header(target, 120.0, 3, time.time())
    text += journal.line(0.0, "l", [0x90, 60, 80])
    text += journal.line(0.5, "M", "mode free")
    text += journal.line(1.0, "l", [0x80, 60, 0])
    text += journal.line(1.5, "l", [0x90, 62, 80])
    text += '[2.0,"l",[128,6'  # the kill came mid-line
    journal.journal_path(target).write_text(text)
    path, events, cut = journal.recover(target)
    assert (path, events, cut) == (target, 3, 1)
    got = tracks(target)
    assert notes(got["livegen"]) == [("on", 60, 0), ("off", 60, 0), ("on", 62, 0), ("off", 62, 0)]
    meter = [m for _, m in got["conductor"] if m.type == "time_signature"]
    assert (meter[0].numerator, meter[0].denominator) == (3, 4)
    assert not journal.journal_path(target).exists()


def test_a_journal_of_something_else_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "x.mid.journal"
    bad.write_text('{"format": "not ours"}\n')
    with pytest.raises(RecordingError, match="not a livegen recording journal"):
        journal.recover(bad)
    with pytest.raises(RecordingError, match="no journal to recover"):
        journal.recover(tmp_path / "missing.mid")


def test_recovery_goes_beside_a_file_already_there(tmp_path):
    target = tmp_path / "take.mid"
    target.write_bytes(b"kept")
    journal.journal_path(target).write_text(journal.header(target, 120.0, 4, 0.0))
    path, _, _ = journal.recover(target)
    assert path == tmp_path / "take-2.mid" and target.read_bytes() == b"kept"


def test_finishing_is_atomic_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "take.mid"
    target.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(RecordingError, match="No space left"):
        journal.save_atomically(mido.MidiFile(), target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.mid"]


def test_a_recovery_started_by_the_next_take_is_said(tmp_path):
    target = tmp_path / "take.mid"
    journal.journal_path(target).write_text(
        journal.header(target, 120.0, 4, 0.0) + journal.line(0.1, "y", [0x90, 50, 70])
    )
    said: list[str] = []
    rec = Recording(target, lambda m: None, bpm=120.0, beats_per_bar=4, notice=said.append)
    rec.hear([], 120.0)
    rec.close()
    assert any("recovered an unfinished recording (1 events) into" in s for s in said), said
    assert notes(tracks(target)["you"]) == [("on", 50, 0), ("off", 50, 0)]
    assert (tmp_path / "take-2.mid").exists()  # the new take, beside the recovered one


# ---- in the engine ---------------------------------------------------------------------------
def engine_with(tmp_path, **cfg) -> tuple[Engine, FakePorts, Clock]:
    ports, clock = FakePorts(), Clock()
    settings = {"seed": 1, "silence_ticks": 4, "response_bars": 1, **cfg}
    engine = Engine(loaded(), ports, LiveConfig(**settings), now=clock)
    return engine, ports, clock


def run(engine: Engine, clock: Clock, script, n: int) -> None:
    for i in range(n):
        clock.t += 0.125  # a 16th at 120 BPM
        msgs = script[i] if i < len(script) else []
        engine.tick([(clock.t - 0.01, m) for m in msgs])


def test_the_livegen_track_is_what_left_the_port_panic_and_stop_included(tmp_path):
    target = tmp_path / "take.mid"
    engine, ports, clock = engine_with(tmp_path, record=str(target), passthrough=True)
    run(engine, clock, CALL, 14)  # the call, passed through; the answer begins
    engine.submit(Do(Action.PANIC))
    run(engine, clock, CALL, 14)
    engine.submit(Set(Control.MODE, "free"))
    run(engine, clock, [], 6)
    assert engine.snapshot().recording.active
    engine.shutdown()  # the free part's notes end, and the take with them
    assert engine.snapshot().recording.active is False
    got = tracks(target)
    sent = [m for m in ports.sent if m.type in ("note_on", "note_off")]
    assert notes(got["livegen"]) == notes([(0, m) for m in sent])
    assert len(sent) > 8  # pass-through, the answer, panic's and shutdown's note-offs
    assert notes(got["you"]) == notes([(0, m) for m in sum(CALL + CALL, [])])
    markers = [m.text for _, m in got["conductor"] if m.type == "marker"]
    assert markers == ["panic", "mode free"]


def test_an_engine_error_still_finishes_the_take_with_every_note_off(tmp_path):
    target = tmp_path / "take.mid"
    ports = FakePorts()
    cfg = LiveConfig(seed=1, mode="free", bpm=300, record=str(target))
    engine = Engine(loaded(), ports, cfg)
    calls = {"n": 0}
    real_step = engine.player.step

    def failing_step(heard, play, tick=None):
        calls["n"] += 1
        if calls["n"] == 30:
            raise RuntimeError("boom")
        return real_step(heard, play)

    engine.player.step = failing_step
    engine.start()
    assert engine.wait(20) and "boom" in engine.error
    got = notes(tracks(target)["livegen"])
    assert got == notes([(0, m) for m in ports.sent if m.type in ("note_on", "note_off")])
    assert any(kind == "on" for kind, _, _ in got)
    assert not journal.journal_path(target).exists()


def test_record_toggles_at_the_tick_and_each_take_gets_its_own_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine, ports, clock = engine_with(tmp_path, mode="free")
    run(engine, clock, [], 4)
    assert engine.snapshot().recording is None  # nothing records unless asked
    engine.submit(Do(Action.RECORD))
    run(engine, clock, [], 8)
    first = engine.snapshot().recording
    assert first.active and first.path.startswith("livegen-")
    engine.submit(Do(Action.RECORD))
    run(engine, clock, [], 1)
    assert engine.snapshot().recording.active is False
    engine.submit(Do(Action.RECORD))
    run(engine, clock, [], 8)
    engine.shutdown()
    takes = sorted(tmp_path.glob("livegen-*.mid"))
    assert len(takes) == 2, takes
    assert not list(tmp_path.glob("*.journal"))


def test_generate_reads_both_parts_of_a_recording_as_its_primer(tmp_path):
    target = tmp_path / "take.mid"
    clock = Clock()
    rec = Recording(target, lambda m: None, bpm=100.0, beats_per_bar=4, now=clock)
    rec.hear([(clock.t, on(60))], 100.0)
    rec.send(mido.Message("note_on", channel=1, note=67, velocity=90))
    clock.t += 1.0  # both notes sound for a second, until the stop
    rec.close()
    score = read_midi(target)
    assert sorted(int(p) for p in score.notes[:, 0]) == [60, 67]  # you and livegen, merged
    assert score.bpm == pytest.approx(100.0)
