"""Presets: named live settings in YAML, checked like every config, applied at start or live."""

from __future__ import annotations

import pytest

from livegen import presets
from livegen.controls import Control, Forget, MapCc, Set, SwitchModel
from livegen.live_config import LiveConfig, load_live_config
from livegen.paths import LIVE_CONFIG, PRESETS
from livegen.recipe import ConfigError


@pytest.fixture(autouse=True)
def user_dir(tmp_path, monkeypatch):
    """The user's presets live here during a test."""
    folder = tmp_path / "config"
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(folder))
    (folder / "presets").mkdir(parents=True)
    return folder / "presets"


def write(folder, name: str, text: str):
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_preset_loads_and_sets_only_what_it_names():
    shipped = sorted(p.stem for p in PRESETS.glob("*.yaml"))
    assert len(shipped) >= 3
    for name in shipped:
        preset = presets.load(name)
        assert preset.name == name and preset.given and preset.description
        assert set(preset.settings()) == set(preset.given)
    ballad = presets.load("ballad")
    assert ballad.settings()["key"] == "D dorian" and "cc" not in ballad.given


def test_a_user_preset_wins_over_a_shipped_one_of_its_name(user_dir):
    write(user_dir, "ballad", "temperature: 0.3\n")
    write(user_dir, "mine", "mode: free\n")
    found = presets.available()
    assert found["ballad"] == user_dir / "ballad.yaml"
    assert found["mine"] == user_dir / "mine.yaml" and found["jam"] == PRESETS / "jam.yaml"
    assert presets.load("ballad").settings() == {"temperature": 0.3}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("temprature: 0.8\n", ["unknown key 'temprature'", "did you mean 'temperature'"]),
        ("temperature: 9\n", ["temperature must be in 0..2.5", "got 9"]),
        ("temperature: hot\n", ["temperature must be float or null", "'hot'"]),
        ("mode: loud\n", ["mode must be one of", "'loud'"]),
        ("key: H major\n", ["key"]),
        ("cc: {chanel: 3}\n", ["cc", "'chanel'"]),
        ("cc: {panic: 127}\n", ["cc", "0..119"]),
        ("mode: [free\n", ["broken YAML"]),
        ("- free\n", ["must be a mapping"]),
    ],
)
def test_a_bad_preset_is_one_line_naming_the_file_and_the_key(user_dir, text, words):
    path = write(user_dir, "bad", text)
    with pytest.raises(ConfigError) as err:
        presets.load("bad")
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message
    # load_all lists it with its error, and the good ones still load.
    listed = dict(presets.load_all())
    assert listed["bad"] == message and isinstance(listed["ballad"], presets.Preset)


def test_an_unknown_name_lists_the_presets_and_where_to_put_one(user_dir):
    with pytest.raises(ConfigError, match=r"no preset named 'nope' \(presets: .*ballad"):
        presets.load("nope")
    with pytest.raises(ConfigError, match="preset file not found"):
        presets.load(user_dir / "missing.yaml")


def test_at_start_the_preset_sits_between_the_file_and_remembered_and_the_flags():
    remembered = {"temperature": 1.1, "mode": "free", "checkpoint": "chorale_poly"}
    cfg = load_live_config(LIVE_CONFIG, remembered, preset="ballad", bpm=100.0)
    assert cfg.temperature == 0.7 and cfg.mode == "continue"  # the preset over remembered
    assert cfg.checkpoint == "folk_melody" and cfg.key == "D dorian"
    assert cfg.bpm == 100.0  # the flag over the preset
    assert cfg.cc == load_live_config(LIVE_CONFIG).cc  # a preset without cc keeps the file's
    assert load_live_config(LIVE_CONFIG, remembered).temperature == 1.1  # no preset: remembered


def test_a_preset_named_in_the_live_file_and_null_turning_the_key_lock_off(tmp_path):
    live = tmp_path / "live.yaml"
    live.write_text("key: A minor\npreset: chorale\n", encoding="utf-8")
    cfg = load_live_config(live)
    assert cfg.key is None and cfg.mode == "accompany"  # chorale.yaml has key: null
    assert load_live_config(live, preset="ballad").key == "D dorian"  # the flag's preset wins


def test_the_panel_applies_a_preset_as_commands():
    jam = presets.load("jam")
    current = (("end_call", 23), ("panic", 22), ("temperature", 30))
    commands = jam.commands("folk_melody", current)
    assert commands == [
        Set(Control.MODE, "free"),
        Set(Control.TEMPERATURE, 1.3),
        Set(Control.BPM, 124.0),
        Forget("end_call"),  # not in the preset's map (and CC 23 goes to regenerate)
        MapCc("mode", 24),
        MapCc("regenerate", 23),
        MapCc("temperature", 21),  # moves from CC 30
        MapCc("toggle", 25),
    ]
    ballad = presets.load("ballad")
    assert SwitchModel("folk_melody") not in ballad.commands("folk_melody", ())  # playing it
    assert ballad.commands("chorale_poly", ())[0] == SwitchModel("folk_melody")


def test_over_replaces_only_the_given_settings():
    cfg = presets.load("chorale").over(LiveConfig(key="D dorian", seed=4, temperature=1.2))
    assert (cfg.key, cfg.seed, cfg.temperature, cfg.checkpoint) == (None, 4, 0.8, "chorale_poly")


def test_a_preset_can_turn_the_sampling_guards_off(user_dir):
    from livegen.controls import Control, Set

    write(user_dir, "loose", "guards: false\n")
    preset = presets.load("loose")
    assert preset.settings() == {"guards": False}
    assert Set(Control.GUARDS, False) in preset.commands("chorale_harmony", ())
