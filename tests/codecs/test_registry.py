"""Tests for the codec registry: names, parameters, errors, and what every codec's table offers."""

from __future__ import annotations

import numpy as np
import pytest

from livegen.codecs import CODECS, Codec, CodecError, codec_params, make_codec
from livegen.notes import Tick, make_notes

NAMES = ["melody", "parts", "performance", "pianoroll", "poly"]


def test_the_five_codecs_are_known_by_name():
    assert sorted(CODECS) == NAMES
    for name, cls in CODECS.items():
        assert cls.name == name and issubclass(cls, Codec)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("melody", {"ticks_per_quarter": 4, "low": 48, "high": 84}),
        ("poly", {"ticks_per_quarter": 4, "low": 36, "high": 84, "order": "ons_first"}),
        (
            "performance",
            {"ticks_per_quarter": 12, "low": 21, "high": 108, "velocity_bins": 32, "max_shift": 24},
        ),
        ("pianoroll", {"ticks_per_quarter": 4, "low": 21, "high": 108}),
        (
            "parts",
            {
                "ticks_per_quarter": 4,
                "low": 36,
                "high": 84,
                "yours": "melody",
                "mine": "accompaniment",
                "yours_low": None,
                "yours_high": None,
                "mine_low": None,
                "mine_high": None,
                "yours_max_notes": 128,
                "mine_max_notes": 128,
            },
        ),
    ],
)
def test_defaults_and_params_rebuild_the_codec(name, params):
    codec = make_codec(name)
    assert codec.params() == params
    assert codec_params(type(codec)) == list(params)
    other = make_codec(name, **{**params, "ticks_per_quarter": 8, "low": 40})
    assert other.params() == {**params, "ticks_per_quarter": 8, "low": 40}
    rebuilt = type(other)(**other.params())
    assert rebuilt.params() == other.params()
    assert rebuilt.token_names() == other.token_names()
    assert codec.describe().startswith(f"{name}(ticks_per_quarter=")


def test_an_unknown_codec_is_named_with_the_known_ones():
    with pytest.raises(CodecError) as info:
        make_codec("jazz")
    message = str(info.value)
    assert "'jazz'" in message and "melody, parts, performance, pianoroll, poly" in message
    assert "\n" not in message


def test_an_unknown_parameter_is_named():
    with pytest.raises(CodecError) as info:
        make_codec("poly", velocity_bins=32)
    message = str(info.value)
    assert "'velocity_bins'" in message and "ticks_per_quarter, low, high" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "params", "key"),
    [
        ("melody", {"ticks_per_quarter": 0}, "ticks_per_quarter"),
        ("melody", {"ticks_per_quarter": 4.0}, "ticks_per_quarter"),
        ("poly", {"low": "36"}, "low"),
        ("poly", {"high": True}, "high"),
        ("poly", {"high": 200}, "high"),
        ("pianoroll", {"low": -1}, "low"),
        ("pianoroll", {"low": 60, "high": 70}, "high - low"),
        ("performance", {"velocity_bins": 0}, "velocity_bins"),
        ("performance", {"velocity_bins": 128}, "velocity_bins"),
        ("performance", {"max_shift": 0}, "max_shift"),
        ("parts", {"yours_low": 20}, "yours's range"),
        ("parts", {"mine_low": 60, "mine_high": 64}, "mine's range"),
        ("parts", {"yours_max_notes": 0}, "yours_max_notes"),
        ("parts", {"mine": ""}, "mine"),
    ],
)
def test_an_invalid_value_is_a_one_line_error_naming_it(name, params, key):
    with pytest.raises(CodecError) as info:
        make_codec(name, **params)
    message = str(info.value)
    assert key in message and name in message and "\n" not in message
    assert isinstance(info.value, ValueError)


def test_numpy_integers_are_accepted_as_plain_ints():
    codec = make_codec("melody", low=np.int64(50))
    assert codec.params()["low"] == 50 and type(codec.params()["low"]) is int


@pytest.mark.parametrize("name", NAMES)
def test_every_codec_derives_names_and_strikes_from_one_table(name):
    codec = make_codec(name)
    names = codec.token_names()
    assert len(names) == len(set(names)) == codec.vocab_size
    strikes = codec.strikes()
    assert strikes.dtype == np.int64 and strikes.shape == (codec.vocab_size,)
    struck = strikes[strikes >= 0]
    # Each pitch of the range once; a parts codec strikes each of its parts' ranges.
    ranges = [codec.your_part, codec.my_part] if name == "parts" else [codec]
    expected = sorted(p for r in ranges for p in range(r.low, r.high + 1))
    assert sorted(struck.tolist()) == expected
    for i in np.flatnonzero(strikes >= 0):
        assert names[i].endswith(f"({strikes[i]})")
    # A pitch mask forbids striking C#s, nothing else.
    mask = codec.pitch_mask(p for p in range(128) if p % 12 != 1)
    assert not mask[(strikes >= 0) & (strikes % 12 == 1)].any()
    assert mask[strikes < 0].all()


@pytest.mark.parametrize("name", NAMES)
def test_a_tick_never_exceeds_max_tokens_per_tick(name):
    codec = make_codec(name, low=0, high=127)
    stream = codec.stream()
    everything = Tick(ons=tuple((p, 1 + p) for p in range(128)))
    assert len(stream.listen(everything)) <= codec.max_tokens_per_tick
    restrike = Tick(offs=tuple(range(128)), ons=tuple((p, 127 - p) for p in range(128)))
    assert len(stream.listen(restrike)) <= codec.max_tokens_per_tick


@pytest.mark.parametrize("name", NAMES)
def test_empty_pieces_encode_and_decode_to_nothing(name):
    codec = make_codec(name)
    tokens = codec.encode(make_notes([]))
    assert len(tokens) == 0
    assert codec.decode(tokens).shape == (0, 4)


@pytest.mark.parametrize("name", NAMES)
def test_copies_do_not_share_state(name):
    codec = make_codec(name)
    stream = codec.stream()
    stream.listen(Tick(ons=((60, 80),)))
    fork = stream.copy()
    fork.listen(Tick(offs=(60,)))

    def probe(s):  # a silent tick, then a strike of 60: one of them tells the states apart
        s = s.copy()
        return s.listen(Tick()), s.listen(Tick(ons=((60, 80),)))

    assert probe(stream) != probe(fork)
    assert fork.codec is stream.codec  # the table is shared, not copied
