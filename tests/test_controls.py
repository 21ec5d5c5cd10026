"""Commands check their values against the one LIMITS table; the CC map turns CCs into them."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from livegen.controls import (
    CC_CONTROLS,
    CC_RANGES,
    CC_TRIGGERS,
    LIMITS,
    NOTHING,
    VELOCITIES,
    Action,
    CcMap,
    Control,
    Do,
    Effect,
    Forget,
    Learn,
    MapCc,
    Set,
    Settings,
    SwitchModel,
    apply,
)
from livegen.live_config import LiveConfig
from livegen.modes import Mode


def one_line_error(make) -> str:
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize("control", list(LIMITS), ids=str)
def test_every_limit_holds_both_ways(control):
    limit = LIMITS[control]
    assert limit.low < limit.high and 0 < limit.step <= limit.high - limit.low
    assert Set(control, limit.low).value == limit.low
    assert Set(control, limit.high).value == limit.high
    for outside in (limit.low - limit.step, limit.high + limit.step):
        message = one_line_error(lambda v=outside: Set(control, v))
        assert control.value in message and f"{limit.low:g}..{limit.high:g}" in message


@pytest.mark.parametrize("control", list(LIMITS), ids=str)
@pytest.mark.parametrize("value", ["1", None, True, [1]])
def test_a_number_control_takes_numbers_only(control, value):
    assert control.value in one_line_error(lambda: Set(control, value))


def test_values_are_kept_as_the_control_keeps_them():
    assert Set(Control.CHANNEL, 3.0).value == 3 and type(Set("channel", 3.0).value) is int
    assert type(Set(Control.BPM, 120).value) is float
    assert Set("temperature", 1).control is Control.TEMPERATURE
    assert Set("mode", "free").value is Mode.FREE
    assert Set(Control.PASSTHROUGH, 1).value is True
    assert Set(Control.GUARDS, 0).value is False and Set(Control.GUARDS, True).value is True
    assert Set(Control.KEY, "D dorian").value == "D dorian"
    assert Set(Control.KEY, "").value is None and Set(Control.KEY, None).value is None
    for velocity in VELOCITIES:
        assert Set(Control.VELOCITY, velocity).value == velocity


@pytest.mark.parametrize(
    ("control", "value", "word"),
    [
        (Control.MODE, "jazz", "continue, accompany, harmonize, free"),
        (Control.VELOCITY, "loud", "velocity"),
        (Control.KEY, "H lydian", "tonic"),
        (Control.KEY, "D nope", "scale"),
    ],
)
def test_named_values_are_checked_when_the_command_is_made(control, value, word):
    assert word in one_line_error(lambda: Set(control, value))


def test_an_unknown_control_or_action_is_refused():
    one_line_error(lambda: Set("loudness", 1))
    one_line_error(lambda: Do("explode"))
    assert Do("panic").action is Action.PANIC


def test_learn_takes_only_what_a_cc_can_control():
    for name in CC_CONTROLS:
        assert Learn(name).control == name
    assert Learn(None).control is None
    assert "channel" in one_line_error(lambda: Learn("channel"))  # a setting no knob sweeps


def test_every_cc_range_lies_inside_its_limit():
    for control, cc_range in CC_RANGES.items():
        limit = LIMITS[control]
        assert limit.low <= cc_range.low < cc_range.high <= limit.high, control


@pytest.mark.parametrize("control", list(CC_RANGES), ids=str)
def test_a_continuous_cc_sweeps_its_range_in_order(control):
    cc = CcMap({control.value: 20})
    values = []
    for value in range(128):
        command = cc.command(20, value)
        assert isinstance(command, Set) and command.control is control
        values.append(command.value)
    assert values[0] == CC_RANGES[control].low and values[-1] == CC_RANGES[control].high
    assert values == sorted(values)
    assert cc.command(20, 64) == cc.command(20, 64)  # no state: the same value each time


# NEXT_MODE's value is "mode", as Control.MODE's: the map once took it for a continuous control.
TRIGGERS = list(CC_TRIGGERS)


@pytest.mark.parametrize("action", TRIGGERS, ids=str)
def test_a_trigger_fires_once_on_the_press_not_while_held(action):
    cc = CcMap({action.value: 30})
    values = [0, 63, 64, 100, 127, 64, 63, 0, 127, 127, 10, 90]
    fired = [cc.command(30, v) for v in values]
    press = Do(action)
    assert fired == [None, None, press, None, None, None, None, None, press, None, None, press]


def test_triggers_on_two_ccs_keep_apart():
    cc = CcMap({"panic": 30, "regenerate": 31})
    assert cc.command(30, 127) == Do(Action.PANIC)
    assert cc.command(31, 127) == Do(Action.REGENERATE)
    assert cc.command(30, 127) is None and cc.command(31, 127) is None


def test_a_cc_that_is_not_mapped_is_not_ours():
    cc = CcMap({"temperature": 20})
    assert cc.command(21, 100) is None
    assert CcMap().command(20, 100) is None


def test_learn_maps_the_next_cc_and_only_that_one():
    cc = CcMap()
    cc.learn("bpm")
    notice = cc.command(42, 99)
    assert isinstance(notice, str) and "42" in notice and "bpm" in notice
    assert cc.learning is None and cc.pairs() == (("bpm", 42),)
    assert cc.command(42, 0) == Set(Control.BPM, CC_RANGES[Control.BPM].low)
    assert cc.command(43, 0) is None


def test_learn_replaces_the_older_mapping_of_the_control():
    cc = CcMap({"temperature": 10, "panic": 11})
    cc.learn("temperature")
    cc.command(20, 0)
    assert cc.pairs() == (("panic", 11), ("temperature", 20))
    assert cc.command(10, 64) is None
    cc.learn("panic")
    cc.command(20, 0)  # takes the CC over from temperature
    assert cc.pairs() == (("panic", 20),)


def test_learn_none_stops_learning():
    cc = CcMap({"temperature": 10})
    cc.learn("bpm")
    cc.learn(None)
    assert isinstance(cc.command(10, 0), Set) and cc.pairs() == (("temperature", 10),)


def test_forget_and_map_cc_take_only_what_a_cc_can_control():
    assert "channel" in one_line_error(lambda: Forget("channel"))
    assert "channel" in one_line_error(lambda: MapCc("channel", 3))
    assert "0..119" in one_line_error(lambda: MapCc("panic", 123))  # a channel mode message
    assert "whole number" in one_line_error(lambda: MapCc("panic", 2.5))
    settings = Settings()
    forget = Forget("panic")
    assert apply(settings, forget, playing=True) == (settings, Effect(mapping=forget))


def test_forget_and_map_cc_change_the_map():
    cc = CcMap({"temperature": 10, "panic": 11})
    cc.change(Forget("temperature"))
    assert cc.pairs() == (("panic", 11),) and cc.command(10, 64) is None
    cc.change(Forget("temperature"))  # forgetting what is not mapped changes nothing
    assert cc.pairs() == (("panic", 11),)
    cc.change(MapCc("reset", 11))  # takes CC 11 from panic
    cc.change(MapCc("temperature", 12))
    assert cc.pairs() == (("reset", 11), ("temperature", 12))
    assert cc.command(11, 127) == Do(Action.RESET)


COMMANDS = [
    Set(Control.TEMPERATURE, 0.8),
    Set("channel", 15),
    Set("mode", "accompany"),
    Set(Control.KEY, "D dorian"),
    Set(Control.KEY, None),
    Set(Control.VELOCITY, "fixed"),
    Do(Action.PANIC),
    Do("mode"),
    SwitchModel("chorale_poly"),
    Learn("temperature"),
    Learn(None),
    Forget("panic"),
    MapCc("bpm", 30),
]


@pytest.mark.parametrize("command", COMMANDS, ids=repr)
def test_commands_cross_a_process_boundary_as_they_are(command):
    back = pickle.loads(pickle.dumps(command))
    assert back == command and type(back) is type(command)
    assert hash(back) == hash(command)
    if isinstance(command, Set):
        assert type(back.value) is type(command.value) and back.control is command.control


def test_commands_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Set(Control.BPM, 100).value = 1000


# ---- what a command does to the session's settings ---------------------------------------------
def test_settings_start_as_the_config_says():
    cfg = LiveConfig(mode="free", temperature=0.5, channel=3, key="D dorian", velocity="fixed")
    settings = Settings.of(cfg)
    assert settings.mode is Mode.FREE and settings.channel == 3 and settings.key == "D dorian"
    assert (settings.temperature, settings.velocity, settings.bpm) == (0.5, "fixed", cfg.bpm)
    assert Settings.of(LiveConfig()) == Settings()  # the same defaults in both places


@pytest.mark.parametrize(
    ("control", "value"),
    [
        (Control.TEMPERATURE, 0.3),
        (Control.BPM, 96),
        (Control.RESPONSE_BARS, 4),
        (Control.LATENCY_MS, -5),
        (Control.PASSTHROUGH, True),
        (Control.VELOCITY, "player"),
        (Control.KEY, "A minor"),
        (Control.GUARDS, False),
    ],
)
def test_a_setting_changes_only_itself_and_livegen_plays_on(control, value):
    before = Settings()
    after, effect = apply(before, Set(control, value), playing=True)
    assert getattr(after, control.value) == Set(control, value).value
    assert dataclasses.replace(after, **{control.value: getattr(before, control.value)}) == before
    assert effect is NOTHING


@pytest.mark.parametrize(("control", "other"), [(Control.MODE, "free"), (Control.CHANNEL, 5)])
def test_a_new_mode_or_channel_ends_livegens_notes_and_the_same_one_does_not(control, other):
    before = Settings()
    after, effect = apply(before, Set(control, other), playing=True)
    assert getattr(after, control.value) == other and effect.ends_notes
    same = getattr(before, control.value)
    assert apply(before, Set(control, same), playing=True) == (before, NOTHING)


def test_next_mode_goes_round_every_mode_ending_the_notes_each_time():
    settings, seen = Settings(), []
    for _ in Mode:
        settings, effect = apply(settings, Do(Action.NEXT_MODE), playing=True)
        assert effect == Effect(ends_notes=True)
        seen.append(settings.mode)
    assert seen == [Mode.ACCOMPANY, Mode.HARMONIZE, Mode.FREE, Mode.CONTINUE]


@pytest.mark.parametrize(("playing", "action"), [(True, Action.STOP), (False, Action.PLAY)])
def test_toggle_resolves_to_stop_or_play(playing, action):
    settings, effect = apply(Settings(), Do(Action.TOGGLE), playing=playing)
    assert settings == Settings() and effect.action is action
    assert effect.ends_notes is (action is Action.STOP)


@pytest.mark.parametrize(
    "action",
    [a for a in Action if a not in (Action.TOGGLE, Action.NEXT_MODE, Action.NEXT_STYLE)],
)
def test_an_action_leaves_the_settings_and_ends_notes_only_when_it_must(action):
    before = Settings()
    after, effect = apply(before, Do(action), playing=True)
    assert after is before and effect.action is action
    assert effect.ends_notes is (action in (Action.PANIC, Action.RESET, Action.STOP))


def test_a_switch_or_a_learn_is_passed_on_untouched():
    before = Settings()
    switch, learn = SwitchModel("chorale_poly"), Learn("temperature")
    assert apply(before, switch, playing=True) == (before, Effect(switch=switch))
    assert apply(before, learn, playing=False) == (before, Effect(learn=learn))


@pytest.mark.parametrize("value", ["off", 2, None, 0.5])
def test_guards_are_on_or_off_and_nothing_else(value):
    assert "guards must be on or off" in one_line_error(lambda: Set(Control.GUARDS, value))


STYLES = ("folk", "chorales", "fiddle")


@pytest.mark.parametrize(
    ("control", "value"), [(Control.STYLE, 2), (Control.STYLE_B, 1), (Control.STYLE_MIX, 0.25)]
)
def test_a_style_control_changes_only_itself_with_a_style_model(control, value):
    before = Settings()
    after, effect = apply(before, Set(control, value), playing=True, styles=STYLES)
    assert getattr(after, control.value) == value and effect is NOTHING
    assert dataclasses.replace(after, **{control.value: getattr(before, control.value)}) == before


@pytest.mark.parametrize("command", [Set(Control.STYLE, 1), Set(Control.STYLE_MIX, 0.5)])
def test_a_style_control_is_refused_with_a_word_for_a_model_without_styles(command):
    before = Settings()
    after, effect = apply(before, command, playing=True)
    assert after is before and "no style input" in effect.refused


def test_a_style_the_model_lacks_is_refused_naming_its_styles():
    before = Settings()
    after, effect = apply(before, Set(Control.STYLE, 3), playing=True, styles=STYLES)
    assert after is before
    assert effect.refused == "style 3: this model's styles are 0 folk, 1 chorales, 2 fiddle"


def test_next_style_goes_round_the_models_styles():
    settings, seen = Settings(), []
    for _ in STYLES:
        settings, effect = apply(settings, Do(Action.NEXT_STYLE), playing=True, styles=STYLES)
        assert effect is NOTHING
        seen.append(settings.style)
    assert seen == [1, 2, 0]
    _, effect = apply(Settings(), Do(Action.NEXT_STYLE), playing=True)
    assert "no style input" in effect.refused


@pytest.mark.parametrize(
    ("control", "value", "words"),
    [(Control.STYLE, 1.5, "whole number"), (Control.STYLE, 16, "0..15"),
     (Control.STYLE_MIX, 1.2, "0..1"), (Control.STYLE_B, "folk", "a number")],
)  # fmt: skip
def test_style_values_are_checked_when_built(control, value, words):
    with pytest.raises(ValueError, match=words):
        Set(control, value)


def test_a_cc_fades_the_style_mix_and_a_pad_steps_the_style():
    cc = CcMap({"style_mix": 20, "next_style": 21})
    assert cc.command(20, 127) == Set(Control.STYLE_MIX, 1.0)
    assert cc.command(20, 0) == Set(Control.STYLE_MIX, 0.0)
    assert cc.command(21, 127) == Do(Action.NEXT_STYLE)
