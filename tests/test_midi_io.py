"""Ports without a MIDI server: the input queue, backend choice, name matching, errors."""

from __future__ import annotations

from collections import deque

import mido
import pytest
import rtmidi

from livegen import jack, midi_io
from livegen.midi_io import InputQueue, PortError, match_port, open_ports, resolve_backend

NOTE = mido.Message("note_on", note=60, velocity=90)


# -- the input queue ---------------------------------------------------------------


class FakeRtIn:
    """rtmidi's input queue as python-rtmidi shows it: ``get_message()`` -> (bytes, delta)."""

    def __init__(self, rows=(), endless=False):
        self.rows = deque(rows)
        self.endless = endless
        self.polls = 0

    def get_message(self):
        self.polls += 1
        if self.endless:
            return [0x90, 60, 90], 0.0
        return self.rows.popleft() if self.rows else None


class FakeClock:
    """perf_counter for the queue: advances by ``step`` at each read."""

    def __init__(self, t=100.0, step=0.0):
        self.t, self.step = t, step

    def __call__(self):
        self.t += self.step
        return self.t


def test_drain_parses_in_order_and_stamps_from_rtmidi_deltas():
    clock = FakeClock(100.0)
    rt = FakeRtIn()
    q = InputQueue(rt, 16, stamp=clock)  # an empty poll at 100.0 came first
    assert q.drain() == []
    clock.t = 101.0  # polled a second later: five notes came 10 ms apart before that
    rt.rows.extend(([0x90, 60 + n, 90], 0.0 if n == 0 else 0.01) for n in range(5))
    got = q.drain()
    assert [m.note for _, m in got] == [60, 61, 62, 63, 64]
    # The first is stamped when polled (nothing earlier to go by), the rest follow the
    # deltas but never after the poll that returned them.
    assert [s for s, _ in got] == [101.0] * 5
    clock.t = 102.0
    rt.rows.extend([([0x80, 60, 0], 0.3), ([0x80, 61, 0], 0.2)])
    got = q.drain()
    assert [s for s, _ in got] == pytest.approx([101.3, 101.5])
    assert q.drain() == [] and q.dropped == 0


def test_stamps_stay_between_the_last_empty_poll_and_the_poll_that_returned_them():
    clock = FakeClock(10.0)
    rt = FakeRtIn()
    q = InputQueue(rt, 16, stamp=clock)
    rt.rows.append(([0x90, 60, 90], 0.0))
    assert [s for s, _ in q.drain()] == [10.0]
    clock.t = 50.0
    assert q.drain() == []  # empty at 50.0: what comes next arrived after it
    clock.t = 51.0
    rt.rows.append(([0x80, 60, 0], 1.0))  # 1 s after the note-on by rtmidi's clock: 11.0
    assert [s for s, _ in q.drain()] == [50.0]


def test_a_full_queue_is_counted_as_possible_loss_and_a_drain_is_bounded():
    rt = FakeRtIn(endless=True)  # a flood faster than any drain
    q = InputQueue(rt, 100, stamp=FakeClock())
    got = q.drain()
    assert len(got) == 99  # rtmidi's ring holds maxlen - 1: one drain reads that much
    assert rt.polls == 99 and q.dropped == 1
    rt.endless = False
    rt.rows.extend(([0x90, 60, 90], 0.0) for _ in range(98))
    assert len(q.drain()) == 98 and q.dropped == 1  # not full: nothing can have been lost


def test_bytes_mido_cannot_parse_are_skipped_and_counted():
    rt = FakeRtIn([([0x90, 60], 0.0), ([0x90, 61, 90], 0.0), ([0xF7], 0.0)])
    q = InputQueue(rt, 16, stamp=FakeClock())
    assert [m.note for _, m in q.drain()] == [61]
    assert q.invalid == 2


def test_open_ports_sets_no_python_callback_on_the_input(monkeypatch):
    """A Python callback would run on JACK's process thread and wait there for the GIL."""

    class VirtualBackend(FakeBackend):
        def open_output(self, name, client_name=None):
            return FakePort(name)

    monkeypatch.setattr(midi_io, "resolve_backend", lambda backend="auto": "jack")
    monkeypatch.setattr(midi_io, "mido_backend", lambda name: VirtualBackend([], []))
    made = fake_rtmidi_in(monkeypatch, [])
    with open_ports(queue_size=512) as ports:
        assert len(made) == 1, "the input must be rtmidi's own, not mido's"
        rt = made[0]
        assert rt.callbacks == []
        assert (rt.api, rt.name, rt.limit) == (rtmidi.API_UNIX_JACK, "livegen-in", 512)
        assert rt.ignored == (False, False, True)  # sysex and clock in, active sensing out
        assert rt.virtual == "livegen in"
        assert ports.drain() == [] and ports.dropped == 0
    assert rt.deleted


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
    def __init__(self, name):
        self.name = name
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


class FakeMidiIn(FakeRtIn):
    """python-rtmidi's MidiIn: records how it was set up."""

    ports: list[str] = []

    def __init__(self, api, name=None, queue_size_limit=1024):
        super().__init__()
        self.api, self.name, self.limit = api, name, queue_size_limit
        self.callbacks, self.ignored, self.virtual, self.opened = [], None, None, None
        self.deleted = False

    def set_callback(self, func, data=None):
        self.callbacks.append(func)

    def ignore_types(self, sysex=True, timing=True, active_sense=True):
        self.ignored = (sysex, timing, active_sense)

    def open_virtual_port(self, name):
        self.virtual = name

    def open_port(self, index, name=None):
        self.opened = self.ports[index]

    def get_ports(self):
        return list(self.ports)

    def close_port(self):
        pass

    def delete(self):
        self.deleted = True


def fake_rtmidi_in(monkeypatch, names) -> list[FakeMidiIn]:
    made: list[FakeMidiIn] = []

    class Made(FakeMidiIn):
        ports = names

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(rtmidi, "MidiIn", Made)
    return made


class FakeBackend:
    """A Windows MM as mido shows it: named ports only (mido's inputs are never opened)."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs

    def get_input_names(self):
        return self.inputs

    def get_output_names(self):
        return self.outputs

    def open_output(self, name, client_name=None):
        assert client_name is None and name in self.outputs
        return FakePort(name)


def fake_windows(monkeypatch, names):
    monkeypatch.setattr(midi_io, "resolve_backend", lambda backend="auto": "windows")
    monkeypatch.setattr(midi_io, "mido_backend", lambda name: FakeBackend(names, names))
    return fake_rtmidi_in(monkeypatch, names)


def test_windows_opens_loopmidi_ports_and_says_so(monkeypatch):
    names = ["livegen in 1", "livegen out 2", "Microsoft GS Wavetable Synth 0"]
    made = fake_windows(monkeypatch, names)
    ports = open_ports()
    assert not ports.info.virtual
    assert "Windows has no virtual MIDI ports" in ports.info.notice
    assert ports._in.name == "livegen in 1" and ports._out.name == "livegen out 2"
    (rt,) = made
    assert rt.opened == "livegen in 1" and rt.api == rtmidi.API_WINDOWS_MM
    rt.rows.append((NOTE.bytes(), 0.0))  # what rtmidi's thread would queue
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
