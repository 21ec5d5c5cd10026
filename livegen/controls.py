"""Every control of a live session as a small command value, one table of limits, the CC map.

The panel, ``livegen run``, a MIDI controller and the tests all change a session the same
way: they build a command (``Set(Control.TEMPERATURE, 0.8)``, ``Do(Action.PANIC)``,
``SwitchModel("chorale_poly")``, ``Learn("temperature")``, ``Forget("temperature")``) and
submit it; the engine
applies every command at the start of the next tick, in order. A command checks its value
when it is built, in the caller's thread, against :data:`LIMITS`, the one place a limit
lives (the panel's +/- keys, the CC ranges and the config check read it too). Commands
are plain frozen values, so they cross a process boundary as they are.

:class:`Settings` is the session's settings as one frozen value, and :func:`apply` says what
a command does to them: the new settings, and the :class:`Effect` the engine must carry out
(end livegen's notes, panic, stop, switch model...). Both are pure, so what every command
means is tested without an engine; the engine only hands each changed setting to the part
that acts on it (sampler, clock, key mask, modes) and carries out the effect.

:class:`CcMap` turns the CCs the engine hears into the same commands.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from livegen.modes import Mode
from livegen.scales import parse_key

if TYPE_CHECKING:
    from livegen.live_config import LiveConfig  # it imports this module: no cycle at run time


class Control(str, Enum):
    """A setting with a value."""

    TEMPERATURE = "temperature"
    BPM = "bpm"
    RESPONSE_BARS = "response_bars"
    CHANNEL = "channel"
    LATENCY_MS = "latency_ms"
    MODE = "mode"
    PASSTHROUGH = "passthrough"
    VELOCITY = "velocity"
    KEY = "key"
    GUARDS = "guards"  # a parts model's sampling guards (livegen/voice_guards.py), on/off
    STYLE = "style"  # a style model's style A, by index into the model's styles
    STYLE_B = "style_b"  # style B, mixed in by style_mix
    STYLE_MIX = "style_mix"  # 0: style A alone, 1: style B alone (livegen/style.py)


class Action(str, Enum):
    """A control that does something once."""

    PANIC = "panic"  # every note off now, All Notes Off on every channel
    RESET = "reset"  # forget the model's state
    REGENERATE = "regenerate"  # play the last answer again, sampled anew
    END_CALL = "end_call"  # continue mode: answer now
    STOP = "stop"  # livegen's notes end; it listens on
    PLAY = "play"
    TOGGLE = "toggle"  # stop when playing, else play
    NEXT_MODE = "mode"  # the next mode in turn
    RECORD = "record"  # start recording the session, or stop (recording.py)
    NEXT_STYLE = "next_style"  # style A becomes the model's next style in turn


@dataclass(frozen=True, slots=True)
class Limit:
    low: float
    high: float
    step: float  # what the panel's +/- keys move by

    def clamp(self, value: float) -> float:
        return min(self.high, max(self.low, value))

    def from_cc(self, value: int) -> float:
        """A CC value 0..127 across the range, on the step's grid."""
        x = self.low + (self.high - self.low) * value / 127
        return round(round(x / self.step) * self.step, 6)


# The one table of limits.
LIMITS: dict[Control, Limit] = {
    Control.TEMPERATURE: Limit(0.0, 2.5, 0.05),
    Control.BPM: Limit(20.0, 400.0, 1.0),
    Control.RESPONSE_BARS: Limit(0.0, 64.0, 1.0),
    Control.CHANNEL: Limit(0, 15, 1),
    Control.LATENCY_MS: Limit(-100.0, 100.0, 1.0),
    # Up to 16 styles; a model's own count is checked when the command is applied.
    Control.STYLE: Limit(0, 15, 1),
    Control.STYLE_B: Limit(0, 15, 1),
    Control.STYLE_MIX: Limit(0.0, 1.0, 0.1),
}
INDEX_CONTROLS = frozenset({Control.CHANNEL, Control.STYLE, Control.STYLE_B})  # whole numbers
STYLE_CONTROLS = frozenset({Control.STYLE, Control.STYLE_B, Control.STYLE_MIX})
# A CC sweeps only the musical part of a range (a knob over 20..400 BPM is unplayable).
CC_RANGES: dict[Control, Limit] = {
    Control.TEMPERATURE: Limit(0.05, 2.0, 0.01),
    Control.BPM: Limit(40.0, 240.0, 0.5),
    Control.RESPONSE_BARS: Limit(0.0, 8.0, 0.5),
    Control.STYLE_MIX: Limit(0.0, 1.0, 0.01),  # a knob fades from style A to style B
}
_CONTINUOUS = {c.value: c for c in CC_RANGES}
VELOCITIES = ("model", "player", "fixed")
# What a CC can be mapped to: the continuous controls above, and triggers (press >= 64).
CC_TRIGGERS = (
    Action.PANIC,
    Action.RESET,
    Action.REGENERATE,
    Action.END_CALL,
    Action.NEXT_MODE,
    Action.TOGGLE,
    Action.RECORD,
    Action.NEXT_STYLE,
)
CC_CONTROLS: tuple[str, ...] = tuple(c.value for c in CC_RANGES) + tuple(
    a.value for a in CC_TRIGGERS
)


def check(control: Control, value: Any) -> Any:
    """``value`` as the control keeps it; ValueError (one line) when it is out of bounds."""
    control = Control(control)
    limit = LIMITS.get(control)
    if limit is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{control.value} must be a number, got {value!r}")
        if not limit.low <= value <= limit.high:
            raise ValueError(
                f"{control.value} must be in {limit.low:g}..{limit.high:g}, got {value:g}"
            )
        if control in INDEX_CONTROLS:
            if float(value) != int(value):
                raise ValueError(f"{control.value} must be a whole number, got {value:g}")
            return int(value)
        return float(value)
    if control is Control.MODE:
        try:
            return Mode(value)
        except ValueError:
            modes = ", ".join(m.value for m in Mode)
            raise ValueError(f"mode must be one of {modes}, got {value!r}") from None
    if control is Control.PASSTHROUGH:
        return bool(value)
    if control is Control.GUARDS:
        if value not in (True, False) or isinstance(value, str):  # 0 and 1 are False, True
            raise ValueError(f"guards must be on or off (true/false), got {value!r}")
        return bool(value)
    if control is Control.VELOCITY:
        if value not in VELOCITIES:
            raise ValueError(f"velocity must be model, player or fixed, got {value!r}")
        return value
    # KEY: a key lock such as "D dorian", or None (off)
    if value is None or value == "":
        return None
    parse_key(value)  # raises ValueError naming what is wrong
    return str(value)


@dataclass(frozen=True, slots=True)
class Set:
    """Set a control to a value (checked when the command is made)."""

    control: Control
    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "control", Control(self.control))
        object.__setattr__(self, "value", check(self.control, self.value))


@dataclass(frozen=True, slots=True)
class Do:
    action: Action

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))


@dataclass(frozen=True, slots=True)
class SwitchModel:
    """Load a model (shipped name or path), warm it on the last bars, then let it play."""

    target: Any  # a name or path; in-process callers may pass a loaded checkpoint


@dataclass(frozen=True, slots=True)
class Learn:
    """Map the next CC that arrives to ``control`` (None stops learning)."""

    control: str | None

    def __post_init__(self) -> None:
        if self.control is not None and self.control not in CC_CONTROLS:
            raise ValueError(f"unknown control {self.control!r} (one of {', '.join(CC_CONTROLS)})")


def _check_cc_control(control: str) -> None:
    if control not in CC_CONTROLS:
        raise ValueError(f"unknown control {control!r} (one of {', '.join(CC_CONTROLS)})")


@dataclass(frozen=True, slots=True)
class Forget:
    """Remove ``control``'s CC mapping (the CC it had is then ignored)."""

    control: str

    def __post_init__(self) -> None:
        _check_cc_control(self.control)


@dataclass(frozen=True, slots=True)
class MapCc:
    """Map CC ``number`` to ``control`` (a preset's CC map, set without moving a knob)."""

    control: str
    number: int

    def __post_init__(self) -> None:
        _check_cc_control(self.control)
        if isinstance(self.number, bool) or not isinstance(self.number, int):
            raise ValueError(f"a CC number must be a whole number, got {self.number!r}")
        if not 0 <= self.number <= 119:  # 120..127 are channel mode messages
            raise ValueError(f"a CC number must be in 0..119, got {self.number}")


Command = Set | Do | SwitchModel | Learn | Forget | MapCc


@dataclass(frozen=True, slots=True)
class Settings:
    """What the session's controls are set to; :func:`apply` makes the next one."""

    temperature: float = 0.9
    bpm: float = 120.0  # the internal clock's tempo (a followed MIDI clock ignores it)
    response_bars: float = 2.0
    channel: int = 0  # livegen's notes go out here from the end of the tick that set it
    latency_ms: float = 0.0
    mode: Mode = Mode.CONTINUE
    passthrough: bool = False
    velocity: str = "model"
    key: str | None = None  # the key lock, or None
    guards: bool = True  # a parts model's sampling guards (livegen/voice_guards.py)
    style: int = 0  # a style model's style A (index into its styles)
    style_b: int = 0  # style B
    style_mix: float = 0.0  # weight on style B; 1 - style_mix on A

    @classmethod
    def of(cls, cfg: LiveConfig) -> Settings:
        """A session's settings as its config starts them."""
        values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls)}
        return cls(**{**values, "mode": Mode(cfg.mode)})


@dataclass(frozen=True, slots=True)
class Effect:
    """What a command asks for beyond its settings; the engine carries it out at the tick."""

    ends_notes: bool = False  # livegen's notes end at this tick (new mode or channel, stop...)
    action: Action | None = None  # play, stop, end_call, panic, reset or regenerate (resolved)
    switch: SwitchModel | None = None  # load and warm this model
    learn: Learn | None = None  # map the next CC
    mapping: Forget | MapCc | None = None  # change the CC map now
    refused: str | None = None  # why the command did nothing (a notice for the musician)


NOTHING = Effect()
ENDING = frozenset({Action.PANIC, Action.RESET, Action.STOP})  # actions that end livegen's notes


def apply(
    settings: Settings, command: Command, *, playing: bool, styles: tuple[str, ...] = ()
) -> tuple[Settings, Effect]:
    """What ``command`` does: the new settings and what else must happen.

    ``playing`` is whether livegen plays now (a toggle stops it then, else plays). A toggle
    and the next mode resolve here, so the engine sees only settings and plain actions. A
    change of mode or channel ends livegen's notes (they end on the channel they began on).
    ``styles`` are the playing model's style names: a style control for a style it lacks
    (or for a model without styles) is refused, the settings left as they were.
    """
    if isinstance(command, Set) and command.control in STYLE_CONTROLS:
        return _style(settings, command.control, command.value, styles)
    if isinstance(command, Do) and command.action is Action.NEXT_STYLE:
        return _style(settings, Control.STYLE, (settings.style + 1) % max(len(styles), 1), styles)
    if isinstance(command, Set):
        name = command.control.value
        changed = getattr(settings, name) != command.value
        ends = changed and command.control in (Control.MODE, Control.CHANNEL)
        effect = Effect(ends_notes=True) if ends else NOTHING
        return dataclasses.replace(settings, **{name: command.value}), effect
    if isinstance(command, Do):
        action = command.action
        if action is Action.NEXT_MODE:
            return dataclasses.replace(settings, mode=settings.mode.next()), Effect(ends_notes=True)
        if action is Action.TOGGLE:
            action = Action.STOP if playing else Action.PLAY
        return settings, Effect(ends_notes=action in ENDING, action=action)
    if isinstance(command, SwitchModel):
        return settings, Effect(switch=command)
    if isinstance(command, Forget | MapCc):
        return settings, Effect(mapping=command)
    return settings, Effect(learn=command)


def _style(
    settings: Settings, control: Control, value: Any, styles: tuple[str, ...]
) -> tuple[Settings, Effect]:
    """A style control: the new settings, or the same ones and why not."""
    if not styles:
        why = f"{control.value}: this model has no style input (a style model has, e.g. style_poly)"
        return settings, Effect(refused=why)
    if control is not Control.STYLE_MIX and value >= len(styles):
        names = ", ".join(f"{i} {name}" for i, name in enumerate(styles))
        return settings, Effect(refused=f"{control.value} {value}: this model's styles are {names}")
    return dataclasses.replace(settings, **{control.value: value}), NOTHING


class CommandQueue:
    """Commands from any thread, numbered as they come, for the tick thread to apply in order."""

    def __init__(self) -> None:
        self._queue: deque[tuple[int, Command]] = deque()
        self._seq = 0  # commands submitted
        self._lock = threading.Lock()

    def put(self, command: Command) -> int:
        """Queue ``command``; returns its sequence number (any thread)."""
        with self._lock:
            self._seq += 1
            self._queue.append((self._seq, command))
            return self._seq

    def put_first(self, commands: list[Command]) -> None:
        """Commands from mapped CCs, in the order heard, before the clients' of this tick.

        They have no number (0): no client waits for them.
        """
        self._queue.extendleft((0, c) for c in reversed(commands))

    def pop(self) -> tuple[int, Command]:
        return self._queue.popleft()

    def __bool__(self) -> bool:
        return bool(self._queue)


class CcMap:
    """CC numbers -> control names; turns the CCs the engine hears into commands.

    Continuous controls follow the CC value across :data:`CC_RANGES`; triggers fire once
    when the value crosses 64 upwards (a button or pedal press), not again while held.
    """

    def __init__(self, mapping: dict[str, int] | None = None) -> None:
        self.by_number: dict[int, str] = {num: name for name, num in (mapping or {}).items()}
        self.learning: str | None = None
        self._high: set[int] = set()  # trigger CCs now held at >= 64

    def learn(self, control: str | None) -> None:
        self.learning = control

    def change(self, command: Forget | MapCc) -> None:
        """Forget a control's CC, or map one; a control has at most one CC, a CC one control."""
        name = command.control
        self.by_number = {k: v for k, v in self.by_number.items() if v != name}
        if isinstance(command, MapCc):
            self.by_number[command.number] = name
            self._high.discard(command.number)

    def pairs(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((name, num) for num, name in self.by_number.items()))

    def command(self, number: int, value: int) -> Command | str | None:
        """The command for one CC; a notice (str) when it was learnt; None when not ours."""
        if self.learning is not None:
            name, self.learning = self.learning, None
            self.by_number = {k: v for k, v in self.by_number.items() if v != name}
            self.by_number[number] = name
            return f"CC {number} now controls {name}"
        name = self.by_number.get(number)
        if name is None:
            return None
        control = _CONTINUOUS.get(name)  # "mode" is a trigger here (next mode), not a value
        if control is not None:
            return Set(control, CC_RANGES[control].from_cc(value))
        was_high = number in self._high
        if value >= 64:
            self._high.add(number)
        else:
            self._high.discard(number)
        if value < 64 or was_high:
            return None  # triggers fire on the press only
        return Do(Action(name))
