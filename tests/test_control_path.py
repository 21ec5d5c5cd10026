"""The control path: CCs heard first, each setting reaches its part, actions after the step."""

from __future__ import annotations

from types import SimpleNamespace

from livegen.control_path import ControlPath
from livegen.controls import Action, CcMap, Control, Do, Set, Settings
from livegen.live_config import LiveConfig
from livegen.modes import Modes
from livegen.snapshot import LIVEGEN
from livegen.voice_guards import ALL


class Recorder:
    """Stands in for each part: records what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.temperature = None
        self.latency = 0.0
        self.mark = None
        self.codec = SimpleNamespace(carries_velocity=False)
        self.model = SimpleNamespace(cfg=SimpleNamespace(styles=()))  # a player's model

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def path(**cfg):
    config = LiveConfig(**cfg)
    parts = {k: Recorder() for k in ("sampler", "clock", "switcher", "ports")}
    voice = Recorder()
    voice.player = Recorder()
    voice.scheduler = Recorder()
    voice.roll = Recorder()
    picture = Recorder()
    modes = Modes(config.mode, silence_ticks=4, ticks_per_bar=16)
    cp = ControlPath(
        Settings.of(config),
        cc=CcMap(config.cc),
        modes=modes,
        voice=voice,
        picture=picture,
        fixed_velocity=config.fixed_velocity,
        **parts,
    )
    return cp, parts, voice, picture


def test_a_cc_heard_at_the_tick_acts_before_a_command_queued_since():
    cp, parts, *_ = path(cc={"temperature": 20})
    cp.submit(Set(Control.TEMPERATURE, 0.5))
    cp.apply(0, [(20, 127)])  # the knob at the top, then the client's 0.5
    assert cp.settings.temperature == 0.5
    assert parts["sampler"].temperature == 0.5


def test_each_changed_setting_reaches_its_part_and_the_sequence_is_echoed():
    cp, parts, voice, _ = path()
    seq = cp.submit(Set(Control.BPM, 100.0))
    cp.submit(Set(Control.LATENCY_MS, 5.0))
    last = cp.submit(Set(Control.KEY, "D dorian"))
    applied = cp.apply(3, [])
    assert ("set_tempo", 100.0) in parts["clock"].calls
    assert parts["clock"].latency == 0.005
    assert [c[0] for c in voice.player.calls] == ["set_key_mask"]
    assert cp.applied == last > seq and not applied.ending


def test_panic_ends_notes_now_and_is_finished_after_the_step():
    cp, parts, voice, picture = path()
    cp.submit(Do(Action.PANIC))
    applied = cp.apply(7, [])
    assert applied.ending and applied.after == (Action.PANIC,)
    assert voice.scheduler.calls == []  # nothing is cut before the step
    cp.finish(Action.PANIC, 7, hearing=None)
    assert ("all_off",) in voice.scheduler.calls and ("panic",) in parts["ports"].calls
    assert voice.roll.calls == [("close", LIVEGEN, 8)]  # the roll's notes end after this tick


def test_a_stray_cc_is_counted_and_a_mapped_one_is_not():
    cp, *_ = path(cc={"temperature": 20})
    cp.apply(0, [(21, 64), (20, 64)])
    assert cp.stray_ccs == 1


def test_the_guards_setting_reaches_the_player_as_all_guards_or_none():
    cp, _, voice, _ = path()
    assert cp.settings.guards is True  # on by default (BENCHMARKS.md, musical checks)
    cp.submit(Set(Control.GUARDS, False))
    cp.submit(Set(Control.GUARDS, False))  # unchanged: nothing more to tell
    cp.submit(Set(Control.GUARDS, True))
    cp.apply(0, [])
    told = [c for c in voice.player.calls if c[0] == "set_guards"]
    assert told == [("set_guards", None), ("set_guards", ALL)]


def style_path(styles=("folk", "chorales", "fiddle"), **cfg):
    cp, parts, voice, picture = path(**cfg)
    voice.player.model = SimpleNamespace(cfg=SimpleNamespace(styles=styles))
    voice.player.calls.clear()
    return cp, voice, picture


def test_a_style_change_reaches_the_player_as_weights_at_the_tick():
    cp, voice, _ = style_path()
    cp.submit(Set(Control.STYLE_B, 2))
    cp.submit(Set(Control.STYLE_MIX, 0.25))
    assert voice.player.calls == []  # nothing before the tick
    cp.apply(0, [])
    (name, w), *_ = [c for c in voice.player.calls if c[0] == "set_style"][-1:]
    assert name == "set_style" and w.tolist() == [0.75, 0.0, 0.25]
    assert cp.settings.style_b == 2 and cp.settings.style_mix == 0.25


def test_a_style_command_without_styles_is_a_notice_and_changes_nothing():
    cp, voice, picture = style_path(styles=())
    cp.submit(Set(Control.STYLE, 1))
    cp.apply(0, [])
    assert cp.settings == Settings.of(LiveConfig())
    assert not [c for c in voice.player.calls if c[0] == "set_style"]
    assert any("no style input" in c[1] for c in picture.calls if c[0] == "notice")


def test_a_model_with_fewer_styles_plays_its_first_and_says_so():
    cp, voice, picture = style_path(styles=("a", "b", "c", "d"), style=3)
    cp.fit_style(voice.player)
    assert voice.player.calls[-1][1].tolist() == [0, 0, 0, 1]
    fewer = SimpleNamespace(model=SimpleNamespace(cfg=SimpleNamespace(styles=("x", "y"))))
    fewer.set_style = lambda w: voice.player.calls.append(("fewer", w))
    cp.fit_style(fewer)
    assert cp.settings.style == 0 and voice.player.calls[-1][1].tolist() == [1, 0]
    assert any("no such style" in c[1] for c in picture.calls if c[0] == "notice")
