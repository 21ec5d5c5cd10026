"""Ports without a MIDI server: the input queue, backend choice, name matching, errors."""

from __future__ import annotations

import threading
import time

import mido
import pytest

from livegen import jack, midi_io
from livegen.midi_io import InputQueue, PortError, match_port, open_ports, resolve_backend

NOTE = mido.Message("note_on", note=60, velocity=90)


# -- the input queue ---------------------------------------------------------------


def test_callback_stamps_on_arrival_and_drain_returns_in_order():
    q = InputQueue(16)
    before = time.perf_counter()
    for n in range(5):
        q.callback(NOTE.copy(note=60 + n))
    after = time.perf_counter()
    got = q.drain()
    assert [m.note for _, m in got] == [60, 61, 62, 63, 64]
    stamps = [s for s, _ in got]
    assert stamps == sorted(stamps)
    assert before <= stamps[0] and stamps[-1] <= after
    assert q.drain() == []


def test_overflow_is_counted_and_drops_the_newest():
    q = InputQueue(100)
    for n in range(10_000):
        q.callback(NOTE.copy(velocity=1 + n % 127))
    assert len(q) == 100
    assert q.dropped == 9_900
    got = q.drain()
    assert [m.velocity for _, m in got] == [1 + n % 127 for n in range(100)]
    q.callback(NOTE)  # room again after a drain
    assert len(q) == 1 and q.dropped == 9_900


def test_callback_never_blocks_while_the_engine_drains():
    q = InputQueue(64)
    total = 20_000
    drained = []
    done = threading.Event()

    def engine():
        while not done.is_set():
            drained.extend(q.drain())
        drained.extend(q.drain())

    t = threading.Thread(target=engine)
    t.start()
    t0 = time.perf_counter()
    for _ in range(total):
        q.callback(NOTE)
    elapsed = time.perf_counter() - t0
    done.set()
    t.join()
    assert len(drained) + q.dropped == total
    assert elapsed < 2.0  # 20k callbacks; a blocking put would stall here


# -- backend choice ----------------------------------------------------------------


def test_unknown_backend():
    with pytest.raises(PortError, match="unknown MIDI backend 'oss'"):
        resolve_backend("oss")


def test_auto_without_alsa_or_jack_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(midi_io.sys, "platform", "linux")
    monkeypatch.setattr(midi_io, "ALSA_SEQ", "/nonexistent/snd/seq")
    monkeypatch.setattr(midi_io, "_compiled", lambda: {"alsa", "jack"})
    monkeypatch.setattr(jack, "server_running", lambda name=None: False)
    with pytest.raises(PortError) as err:
        resolve_backend("auto")
    text = str(err.value)
    assert "\n" not in text
    assert "sudo modprobe snd-seq" in text
    assert "jackd -d dummy" in text and "--backend jack" in text
    assert "livegen run --start-jack" in text


def test_auto_prefers_alsa_then_jack(monkeypatch, tmp_path):
    monkeypatch.setattr(midi_io.sys, "platform", "linux")
    monkeypatch.setattr(midi_io, "_compiled", lambda: {"alsa", "jack"})
    seq = tmp_path / "seq"
    seq.touch()
    monkeypatch.setattr(midi_io, "ALSA_SEQ", str(seq))
    assert resolve_backend() == "alsa"
    seq.unlink()
    monkeypatch.setattr(jack, "server_running", lambda name=None: True)
    assert resolve_backend() == "jack"
    monkeypatch.setattr(midi_io.sys, "platform", "darwin")
    assert resolve_backend() == "coremidi"
    monkeypatch.setattr(midi_io.sys, "platform", "win32")
    assert resolve_backend() == "windows"


def test_backend_not_compiled_in(monkeypatch):
    monkeypatch.setattr(midi_io, "_compiled", lambda: {"alsa"})
    with pytest.raises(PortError, match="built without CoreMIDI"):
        resolve_backend("coremidi")


def test_explicit_alsa_without_sequencer(monkeypatch):
    monkeypatch.setattr(midi_io.sys, "platform", "linux")
    monkeypatch.setattr(midi_io, "ALSA_SEQ", "/nonexistent/snd/seq")
    monkeypatch.setattr(midi_io, "_compiled", lambda: {"alsa", "jack"})
    with pytest.raises(PortError, match=r"cannot use ALSA.*modprobe snd-seq"):
        open_ports(backend="alsa")


@pytest.mark.skipif("jack" not in midi_io._compiled(), reason="python-rtmidi without JACK")
def test_jack_not_running_names_jack_and_the_fix(monkeypatch):
    # A real attempt through rtmidi/libjack against a server that does not exist.
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "livegen-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    assert jack.server_running() in (False, None)
    with pytest.raises(PortError) as err:
        open_ports(backend="jack")
    text = str(err.value)
    assert text.startswith("JACK failed")
    assert "livegen-no-such-server" in text and "jackd -d dummy" in text


# -- names -------------------------------------------------------------------------


def test_match_port_exact_then_unique_substring():
    names = ["Midi Through:Midi Through Port-0 14:0", "loopMIDI Port 1", "loopMIDI Port 10"]
    assert match_port("loopMIDI Port 1", names, "input") == "loopMIDI Port 1"
    assert match_port("through", names, "input") == names[0]
    with pytest.raises(PortError, match="ambiguous.*'loopMIDI Port 1', 'loopMIDI Port 10'"):
        match_port("loopmidi", names, "input")
    with pytest.raises(PortError, match="no MIDI output port named 'synth' on JACK; available"):
        match_port("synth", names, "output", "JACK")


class FakePort:
    def __init__(self, name, callback=None):
        self.name = name
        self.callback = callback
        self.sent = []
        self.closed = False
        self._rt = self

    def get_ports(self):
        return []

    def send(self, msg):
        if self.closed:
            raise OSError("closed")
        self.sent.append(msg)

    def close(self):
        self.closed = True


class FakeBackend:
    """A Windows MM as mido shows it: named ports only."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs

    def get_input_names(self):
        return self.inputs

    def get_output_names(self):
        return self.outputs

    def open_input(self, name, client_name=None, callback=None):
        assert client_name is None and name in self.inputs
        return FakePort(name, callback)

    def open_output(self, name, client_name=None):
        assert client_name is None and name in self.outputs
        return FakePort(name)


def fake_windows(monkeypatch, names):
    monkeypatch.setattr(midi_io, "resolve_backend", lambda backend="auto": "windows")
    monkeypatch.setattr(midi_io, "mido_backend", lambda name: FakeBackend(names, names))


def test_windows_opens_loopmidi_ports_and_says_so(monkeypatch):
    fake_windows(monkeypatch, ["livegen in 1", "livegen out 2", "Microsoft GS Wavetable Synth 0"])
    ports = open_ports()
    assert not ports.info.virtual
    assert "Windows has no virtual MIDI ports" in ports.info.notice
    assert ports._in.name == "livegen in 1" and ports._out.name == "livegen out 2"
    ports._in.callback(NOTE)  # what rtmidi's thread would do
    assert [m for _, m in ports.drain()] == [NOTE]


def test_windows_without_loopmidi_explains_loopmidi(monkeypatch):
    fake_windows(monkeypatch, ["Microsoft GS Wavetable Synth 0"])
    with pytest.raises(PortError) as err:
        open_ports()
    text = str(err.value)
    assert "no MIDI input port named 'livegen in'" in text
    assert "install loopMIDI" in text and "'livegen in' and 'livegen out'" in text


def test_panic_sends_cc123_and_cc120_on_all_channels_and_counts_failures(monkeypatch):
    fake_windows(monkeypatch, ["livegen in", "livegen out"])
    ports = open_ports()
    assert ports.panic() == 32
    sent = ports._out.sent
    assert {(m.channel, m.control) for m in sent} == {
        (ch, cc) for ch in range(16) for cc in (123, 120)
    }
    ports.close()
    assert ports.panic() == 0  # the port is gone: counted, not raised
    assert ports.send_errors == 32
    with pytest.raises(PortError, match="cannot send on 'livegen out'"):
        ports.send(NOTE)
    assert not ports.alive()


def test_port_loss_check_ignores_alsa_renumbering_only():
    from livegen.midi_io import _still_listed

    assert _still_listed("Synth:Synth MIDI 1 128:0", ["Synth:Synth MIDI 1 130:0"], "alsa")
    assert not _still_listed("Synth:Synth MIDI 1 128:0", ["Other:Other 128:0"], "alsa")
    assert not _still_listed("loopMIDI Port 1", ["loopMIDI Port 10"], "windows")


def test_missing_jackd_says_how_to_install(monkeypatch):
    monkeypatch.setattr(jack.shutil, "which", lambda name: None)
    with pytest.raises(jack.JackError, match="apt-get install --no-install-recommends jackd2"):
        jack.start_dummy_jack()


def test_server_check_is_silent_and_false_for_an_unknown_server():
    assert jack.server_running("livegen-no-such-server") in (False, None)
