"""Live settings: the shipped configs/live.yaml loads, bad keys and values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegen.live_config import LiveConfig, key_pitches, load_live_config, parse_key
from livegen.recipe import ConfigError

SHIPPED = Path(__file__).resolve().parent.parent / "configs" / "live.yaml"


def test_the_shipped_live_config_loads():
    cfg = load_live_config(SHIPPED)
    assert cfg.checkpoint == "folk_melody"
    assert cfg.cc["temperature"] == 21


def test_overrides_win_and_none_keeps_the_file(tmp_path):
    path = tmp_path / "live.yaml"
    path.write_text("bpm: 90\nmode: accompany\n")
    cfg = load_live_config(path, bpm=100, mode=None)
    assert cfg.bpm == 100 and cfg.mode == "accompany"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tempo: 90\n", ["tempo", "bpm"]),  # unknown key, with a suggestion
        ("bpm: fast\n", ["bpm"]),
        ("mode: jam\n", ["mode", "continue"]),
        ("channel: 16\n", ["channel", "0..15"]),
        ("key: H major\n", ["key"]),
        ("cc: {volume: 7}\n", ["cc", "volume"]),
        ("bpm: [1\n", ["broken YAML"]),
        ("osc: 70000\n", ["osc", "0..65535"]),
        ("osc_reply: 9001\n", ["osc_reply"]),
        ("osc_reply: localhost\n", ["osc_reply", "HOST:PORT"]),
    ],
)
def test_bad_settings_are_named(tmp_path, text, words):
    path = tmp_path / "live.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_live_config(path)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_osc_is_off_unless_asked_and_on_loopback_when_asked():
    cfg = load_live_config(SHIPPED)
    assert cfg.osc is None and cfg.osc_reply is None  # no listener by default
    assert load_live_config(SHIPPED, osc=9000).osc_host == "127.0.0.1"
    assert load_live_config(None, osc_reply="[::1]:9001").osc_reply == "[::1]:9001"


def test_a_bad_override_is_named():
    with pytest.raises(ConfigError, match="command line: temperature"):
        load_live_config(None, temperature=-1.0)


def test_the_config_is_frozen():
    with pytest.raises(AttributeError):
        LiveConfig().bpm = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C", (0, "major")),
        ("D dorian", (2, "dorian")),
        ("F# minor", (6, "minor")),
        ("Bb mixolydian", (10, "mixolydian")),
    ],
)
def test_parse_key(text, expected):
    assert parse_key(text) == expected


def test_key_pitches_cover_the_scale_in_every_octave():
    pitches = key_pitches("A minor")
    assert {p % 12 for p in pitches} == {9, 11, 0, 2, 4, 5, 7}
    assert 21 in pitches and 127 in pitches and 126 not in pitches  # A0, G9 in; F#9 out
