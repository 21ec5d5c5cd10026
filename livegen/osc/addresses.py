"""The OSC address space: every control of the panel as an address, made from controls.py.

Each :class:`~livegen.controls.Control` is ``/livegen/<name>`` taking one value, each
:class:`~livegen.controls.Action` is ``/livegen/<name>`` taking none, and ``/livegen/model``
and ``/livegen/learn`` make :class:`~livegen.controls.SwitchModel` and
:class:`~livegen.controls.Learn`; so a control added to controls.py has an address with no
change here. Values are checked by the commands themselves, against the one ``LIMITS``
table, exactly as the panel's are.

:func:`commands` turns one datagram into commands and :class:`Counts` tallies what it
ignored, by kind. Nothing here raises on bad input: a datagram that is not OSC, an address
that is not ours, or a value of the wrong type or out of range is counted and dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pythonosc.osc_packet import OscPacket

from livegen.controls import (
    INDEX_CONTROLS,
    LIMITS,
    Action,
    Command,
    Control,
    Do,
    Learn,
    Set,
    Settings,
    SwitchModel,
)

PREFIX = "/livegen/"
_PREFIX = PREFIX.encode()
_BUNDLE = b"#bundle\x00"
# The kinds of ignored message, as the snapshot and the panel count them.
MALFORMED = "malformed"  # not an OSC packet at all, or one cut short
UNKNOWN = "unknown"  # an address livegen has not got
BAD_VALUE = "bad_value"  # our address, but the wrong type, count or range of arguments
KINDS = (MALFORMED, UNKNOWN, BAD_VALUE)
# Shorter names the issue and TouchOSC layouts use; both spellings work.
ALIASES = {"tempo": Control.BPM.value, "end": Action.END_CALL.value}
# A model is named, never a path: a controller on the network must not make livegen open
# files of its choosing (the panel, on the machine itself, may).
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_OFF = ("", "off", "none")


class Ignored(Exception):
    """A message livegen does not act on; ``kind`` is one of :data:`KINDS`."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind


class Released(Exception):
    """A button's release (a trigger with value 0): nothing to do, and nothing wrong."""


@dataclass(frozen=True)
class Address:
    """One address: what it takes (for the README's table) and how it makes a command."""

    path: str
    takes: str
    example: str
    make: Callable[[list[Any]], Command]


def _one(args: list[Any]) -> Any:
    if len(args) != 1:
        raise Ignored(BAD_VALUE, f"takes one value, got {len(args)}")
    return args[0]


def _pressed(args: list[Any]) -> None:
    """A trigger fires with no argument, or a press (a non-zero number, True): a TouchOSC
    button sends 1 on press and 0 on release."""
    if not args:
        return
    value = _one(args)
    if isinstance(value, (bool, int, float)):
        if value:
            return
        raise Released
    raise Ignored(BAD_VALUE, f"a trigger takes no value or a number, got {value!r}")


def _setter(control: Control) -> Callable[[list[Any]], Command]:
    def make(args: list[Any]) -> Command:
        value = _one(args)
        if control in INDEX_CONTROLS and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif control in INDEX_CONTROLS and not isinstance(value, int):
            raise Ignored(BAD_VALUE, f"{control.value} must be a whole number, got {value!r}")
        on_off = control in (Control.PASSTHROUGH, Control.GUARDS)
        if on_off and (isinstance(value, str) or value not in (0, 1)):
            raise Ignored(BAD_VALUE, f"{control.value} takes 0/1 or T/F, got {value!r}")
        if isinstance(value, float) and control in LIMITS:
            value = round(value, 6)  # OSC's 32-bit 0.7 is 0.699999988: the value meant
        if control is Control.KEY and isinstance(value, str) and value.strip().lower() in _OFF:
            value = None
        if control in (Control.MODE, Control.VELOCITY, Control.KEY) and not (
            value is None or isinstance(value, str)
        ):
            raise Ignored(BAD_VALUE, f"{control.value} takes a string, got {value!r}")
        try:
            return Set(control, value)
        except ValueError as err:  # out of range, not a mode, not a key: as the panel says
            raise Ignored(BAD_VALUE, str(err)) from None

    return make


def _trigger(action: Action) -> Callable[[list[Any]], Command]:
    def make(args: list[Any]) -> Command:
        _pressed(args)
        return Do(action)

    return make


def _mode(args: list[Any]) -> Command:
    """``/livegen/mode "free"`` sets the mode; with no value (a button) it is the next mode."""
    if len(args) == 1 and isinstance(args[0], str):
        return _setter(Control.MODE)(args)
    return _trigger(Action.NEXT_MODE)(args)


def _model(args: list[Any]) -> Command:
    name = _one(args)
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise Ignored(BAD_VALUE, f"model takes a model's name (no path), got {name!r}")
    return SwitchModel(name)


def _learn(args: list[Any]) -> Command:
    name = _one(args) if args else ""
    if not isinstance(name, str):
        raise Ignored(BAD_VALUE, f"learn takes a control's name, got {name!r}")
    try:
        return Learn(None if name.strip().lower() in _OFF else name)
    except ValueError as err:
        raise Ignored(BAD_VALUE, str(err)) from None


def _takes(control: Control) -> tuple[str, str]:
    limit = LIMITS.get(control)
    if limit is not None:
        kind = "int" if control in INDEX_CONTROLS else "float"
        example = {Control.CHANNEL: 1, Control.LATENCY_MS: 10}.get(control)
        example = getattr(Settings(), control.value) if example is None else example
        return f"{kind} {limit.low:g}..{limit.high:g}", f"{example:g}"
    return {
        Control.MODE: ("string (mode name); no value: next mode", '"accompany"'),
        Control.PASSTHROUGH: ("0/1 or T/F", "1"),
        Control.VELOCITY: ('"model", "player" or "fixed"', '"player"'),
        Control.KEY: ('key lock; "" or "off" clears', '"D dorian"'),
        Control.GUARDS: ("0/1 or T/F (a parts model's sampling guards)", "0"),
    }.get(control, ("one value", ""))


def _space() -> dict[str, Address]:
    space: dict[str, Address] = {}
    for control in Control:
        takes, example = _takes(control)
        make = _mode if control is Control.MODE else _setter(control)
        space[control.value] = Address(PREFIX + control.value, takes, example, make)
    for action in Action:
        if action.value not in space:  # NEXT_MODE is "mode" with no value, above
            space[action.value] = Address(
                PREFIX + action.value, "nothing, or 1 (press; 0 is ignored)", "", _trigger(action)
            )
    space["model"] = Address(PREFIX + "model", "a model's name", '"chorale_poly"', _model)
    space["learn"] = Address(
        PREFIX + "learn", 'a control to map the next CC to; "off" stops', '"temperature"', _learn
    )
    return space


SPACE = _space()


def command(address: str, args: list[Any]) -> Command:
    """The command of one message; :class:`Ignored` or :class:`Released` when there is none."""
    name = address[len(PREFIX) :] if address.startswith(PREFIX) else None
    entry = SPACE.get(ALIASES.get(name, name)) if name is not None else None
    if entry is None:
        raise Ignored(UNKNOWN, f"no such address {address!r}")
    return entry.make(list(args))


class Counts:
    """Commands made and messages ignored by kind; read from other threads (a tuple swap).

    The listening process counts with :meth:`ignore`; the engine's side takes its figures
    with :meth:`take` and adds the commands the engine refused (:meth:`refuse`).
    """

    def __init__(self) -> None:
        self.received = 0  # commands handed to the engine
        self.refused = 0  # commands the engine refused (counted as bad values)
        self._ignored = dict.fromkeys(KINDS, 0)
        self.ignored: tuple[tuple[str, int], ...] = tuple(self._ignored.items())

    def ignore(self, kind: str, n: int = 1) -> None:
        self._ignored[kind] += n
        self._show()

    def take(self, ignored: tuple[tuple[str, int], ...]) -> None:
        self._ignored = dict(ignored)
        self._show()

    def refuse(self) -> None:
        self.refused += 1
        self._show()

    def _show(self) -> None:
        shown = dict(self._ignored)
        shown[BAD_VALUE] += self.refused
        self.ignored = tuple(shown.items())

    def total_ignored(self) -> int:
        return sum(n for _, n in self.ignored)


def commands(dgram: bytes, counts: Counts) -> list[Command]:
    """The commands in one datagram (a message or a bundle of them); the rest is counted.

    A cheap look at the first bytes rejects what cannot be ours before python-osc parses
    it, so a flood of stray traffic costs little. A bundle's time tag is not waited for:
    a command acts at the next tick, as every control does.
    """
    if not dgram.startswith((_PREFIX, _BUNDLE)):
        whole = dgram.startswith(b"/") and len(dgram) % 4 == 0
        counts.ignore(UNKNOWN if whole else MALFORMED)
        return []
    if len(dgram) % 4:  # OSC packets are whole 32-bit words; python-osc reads a cut one as zeros
        counts.ignore(MALFORMED)
        return []
    try:
        messages = [timed.message for timed in OscPacket(dgram).messages]
    except Exception:  # noqa: BLE001  python-osc raises several kinds on broken packets
        counts.ignore(MALFORMED)
        return []
    out = []
    for message in messages:
        try:
            out.append(command(message.address, message.params))
        except Released:
            pass
        except Ignored as err:
            counts.ignore(err.kind)
    return out


def table() -> str:
    """The address table as Markdown, for the README (a test keeps the two equal)."""
    rows = ["| address | takes | example |", "|---|---|---|"]
    for name, entry in SPACE.items():
        alias = [a for a, target in ALIASES.items() if target == name]
        path = f"`{entry.path}`" + "".join(f", `{PREFIX}{a}`" for a in alias)
        example = f"`{entry.path} {entry.example}`" if entry.example else f"`{entry.path}`"
        rows.append(f"| {path} | {entry.takes} | {example} |")
    return "\n".join(rows)
