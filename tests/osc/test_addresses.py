"""The OSC address space: every control has an address, values are checked by LIMITS, and
every kind of bad message is counted and dropped, never raised."""

from __future__ import annotations

import struct

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from livegen.controls import LIMITS, Action, Control, Do, Learn, Set, SwitchModel
from livegen.modes import Mode
from livegen.osc.addresses import (
    BAD_VALUE,
    MALFORMED,
    PREFIX,
    SPACE,
    UNKNOWN,
    Counts,
    commands,
    table,
)

README = __import__("pathlib").Path(__file__).resolve().parents[2] / "README.md"


def msg(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def one(dgram: bytes):
    counts = Counts()
    out = commands(dgram, counts)
    assert counts.total_ignored() == 0, counts.ignored
    assert len(out) == 1, out
    return out[0]


def ignored(dgram: bytes) -> dict[str, int]:
    counts = Counts()
    assert commands(dgram, counts) == []
    return {k: n for k, n in counts.ignored if n}


def test_every_control_and_action_has_an_address():
    names = {c.value for c in Control} | {a.value for a in Action} | {"model", "learn"}
    assert set(SPACE) == names
    assert all(entry.path == PREFIX + name for name, entry in SPACE.items())


@pytest.mark.parametrize(
    ("dgram", "command"),
    [
        (msg("/livegen/temperature", 0.7), Set(Control.TEMPERATURE, 0.7)),  # float32 rounded
        (msg("/livegen/temperature", 1), Set(Control.TEMPERATURE, 1.0)),
        (msg("/livegen/bpm", 100.0), Set(Control.BPM, 100.0)),
        (msg("/livegen/tempo", 100), Set(Control.BPM, 100.0)),
        (msg("/livegen/response_bars", 4), Set(Control.RESPONSE_BARS, 4.0)),
        (msg("/livegen/channel", 3), Set(Control.CHANNEL, 3)),
        (msg("/livegen/channel", 3.0), Set(Control.CHANNEL, 3)),
        (msg("/livegen/style", 2.0), Set(Control.STYLE, 2)),
        (msg("/livegen/style_b", 1), Set(Control.STYLE_B, 1)),
        (msg("/livegen/style_mix", 0.25), Set(Control.STYLE_MIX, 0.25)),
        (msg("/livegen/next_style"), Do(Action.NEXT_STYLE)),
        (msg("/livegen/latency_ms", -5.0), Set(Control.LATENCY_MS, -5.0)),
        (msg("/livegen/mode", "accompany"), Set(Control.MODE, Mode.ACCOMPANY)),
        (msg("/livegen/mode"), Do(Action.NEXT_MODE)),
        (msg("/livegen/mode", 1.0), Do(Action.NEXT_MODE)),
        (msg("/livegen/passthrough", True), Set(Control.PASSTHROUGH, True)),
        (msg("/livegen/passthrough", 0), Set(Control.PASSTHROUGH, False)),
        (msg("/livegen/guards", 0), Set(Control.GUARDS, False)),
        (msg("/livegen/guards", True), Set(Control.GUARDS, True)),
        (msg("/livegen/velocity", "fixed"), Set(Control.VELOCITY, "fixed")),
        (msg("/livegen/key", "D dorian"), Set(Control.KEY, "D dorian")),
        (msg("/livegen/key", ""), Set(Control.KEY, None)),
        (msg("/livegen/key", "off"), Set(Control.KEY, None)),
        (msg("/livegen/panic"), Do(Action.PANIC)),
        (msg("/livegen/panic", 1.0), Do(Action.PANIC)),
        (msg("/livegen/reset", True), Do(Action.RESET)),
        (msg("/livegen/regenerate"), Do(Action.REGENERATE)),
        (msg("/livegen/end"), Do(Action.END_CALL)),
        (msg("/livegen/end_call", 1), Do(Action.END_CALL)),
        (msg("/livegen/stop"), Do(Action.STOP)),
        (msg("/livegen/play"), Do(Action.PLAY)),
        (msg("/livegen/toggle"), Do(Action.TOGGLE)),
        (msg("/livegen/model", "chorale_poly"), SwitchModel("chorale_poly")),
        (msg("/livegen/learn", "temperature"), Learn("temperature")),
        (msg("/livegen/learn", "off"), Learn(None)),
    ],
)
def test_a_message_makes_its_command(dgram, command):
    assert one(dgram) == command


def test_a_button_release_is_neither_a_command_nor_an_error():
    for dgram in (msg("/livegen/panic", 0.0), msg("/livegen/end", 0), msg("/livegen/stop", False)):
        counts = Counts()
        assert commands(dgram, counts) == []
        assert counts.total_ignored() == 0


def test_a_bundle_gives_each_of_its_messages_in_order():
    builder = OscBundleBuilder(IMMEDIATELY)
    for dgram in (msg("/livegen/temperature", 0.5), msg("/livegen/nope"), msg("/livegen/reset")):
        builder.add_content(build_msg_from(dgram))
    counts = Counts()
    out = commands(builder.build().dgram, counts)
    assert out == [Set(Control.TEMPERATURE, 0.5), Do(Action.RESET)]
    assert dict(counts.ignored)[UNKNOWN] == 1


def build_msg_from(dgram: bytes):
    from pythonosc.osc_message import OscMessage

    return OscMessage(dgram)


@pytest.mark.parametrize(
    ("dgram", "kind"),
    [
        (b"", MALFORMED),
        (b"\x00\x01\x02garbage", MALFORMED),
        (b"hello world", MALFORMED),
        (b"/livegen/temperature", MALFORMED),  # no padding, no type tags
        (b"/livegen/temperature\x00\x00\x00\x00,f\x00\x00\x01", MALFORMED),  # float cut short
        (b"#bundle\x00\x00\x00", MALFORMED),  # a bundle cut short
        (b"/livegen/temperature\x00\x00\x00\x00,s\x00\x00abc", MALFORMED),  # unterminated
        (msg("/other/temperature", 0.5), UNKNOWN),
        (msg("/livegen/nope", 1.0), UNKNOWN),
        (msg("/livegen"), UNKNOWN),
        (msg("/livegen/Temperature", 0.5), UNKNOWN),  # addresses are exact
        (msg("/livegen/temperature"), BAD_VALUE),  # no value
        (msg("/livegen/temperature", 0.5, 0.6), BAD_VALUE),  # two values
        (msg("/livegen/temperature", "0.5"), BAD_VALUE),  # a string
        (msg("/livegen/temperature", True), BAD_VALUE),
        (msg("/livegen/temperature", 9.0), BAD_VALUE),  # past LIMITS
        (msg("/livegen/temperature", -0.1), BAD_VALUE),
        (msg("/livegen/temperature", float("nan")), BAD_VALUE),
        (msg("/livegen/temperature", float("inf")), BAD_VALUE),
        (msg("/livegen/bpm", 1000), BAD_VALUE),
        (msg("/livegen/channel", 16), BAD_VALUE),
        (msg("/livegen/channel", 2.5), BAD_VALUE),
        (msg("/livegen/style", 0.5), BAD_VALUE),
        (msg("/livegen/style", "folk"), BAD_VALUE),
        (msg("/livegen/style_mix", 1.5), BAD_VALUE),
        (msg("/livegen/mode", "loud"), BAD_VALUE),
        (msg("/livegen/passthrough", 2), BAD_VALUE),
        (msg("/livegen/passthrough", "yes"), BAD_VALUE),
        (msg("/livegen/guards", "off"), BAD_VALUE),
        (msg("/livegen/velocity", 3), BAD_VALUE),
        (msg("/livegen/key", "H major"), BAD_VALUE),
        (msg("/livegen/key", 5), BAD_VALUE),
        (msg("/livegen/panic", "now"), BAD_VALUE),
        (msg("/livegen/model", "../../etc/passwd"), BAD_VALUE),  # names only, never paths
        (msg("/livegen/model", "/tmp/x.pt"), BAD_VALUE),
        (msg("/livegen/model", 3), BAD_VALUE),
        (msg("/livegen/learn", "volume"), BAD_VALUE),
    ],
)
def test_a_bad_message_is_counted_by_kind_and_dropped(dgram, kind):
    assert ignored(dgram) == {kind: 1}


def test_random_bytes_never_raise():
    import random

    rng = random.Random(7)
    counts = Counts()
    good = msg("/livegen/temperature", 0.5)
    for _ in range(2000):
        raw = bytearray(good if rng.random() < 0.5 else rng.randbytes(rng.randrange(40)))
        for _ in range(rng.randrange(4)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        commands(bytes(raw), counts)  # must not raise
    assert counts.total_ignored() > 0


def test_limits_are_the_panels_own():
    for control, limit in LIMITS.items():
        assert one(msg(PREFIX + control.value, float(limit.high))) == Set(control, limit.high)
        assert ignored(msg(PREFIX + control.value, float(limit.high) + 1)) == {BAD_VALUE: 1}


def test_int64_and_double_arguments_are_numbers_too():
    # oscsend's 'h' and 'd' types: an int64 and a float64 (python-osc reads both).
    address = b"/livegen/bpm\x00\x00\x00\x00"
    assert one(address + b",h\x00\x00" + struct.pack(">q", 90)) == Set(Control.BPM, 90.0)
    assert one(address + b",d\x00\x00" + struct.pack(">d", 90.5)) == Set(Control.BPM, 90.5)


def test_the_readme_table_is_the_address_space():
    assert table() in README.read_text(), "README's OSC table: paste livegen.osc.addresses.table()"
