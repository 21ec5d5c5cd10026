"""Hearing: the stamped input of one tick -> what the musician played in it.

:class:`Hearing` keeps which keys the musician holds (and which the sustain pedal holds)
from tick to tick, and turns each tick's inbox into a :class:`Heard`: the musician's part
of the tick as a :class:`~livegen.notes.Tick` (releases, then strikes), the control changes
that are not about notes (for the CC map), and how many messages were not for livegen.
It holds no model and no ports, so it is tested on plain lists of messages.

Knowing when the musician is silent is what call and response waits for, so every way a
key can end is honoured: note-off (or note-on at velocity 0), the pedal lifting, All Notes
Off (CC 123) and All Sound Off (CC 120), Reset All Controllers (CC 121, lifts the pedal),
and an input queue that overflowed (a note-off may be among the lost messages).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import mido

from livegen.notes import Tick

SUSTAIN, ALL_SOUND_OFF, RESET_CONTROLLERS, ALL_NOTES_OFF = 64, 120, 121, 123


@dataclass(frozen=True, slots=True)
class Heard:
    """The musician's part of one tick, and what else arrived with it."""

    tick: Tick  # releases, then strikes
    ccs: tuple[tuple[int, int], ...] = ()  # (number, value) of control changes for the CC map
    ignored: int = 0  # messages that are not livegen's (sysex, aftertouch, program change)
    released_all: str | None = None  # why every held key was let go, for a notice

    @property
    def struck(self) -> bool:
        return bool(self.tick.ons)


class Hearing:
    """The musician's keys and pedal between ticks; :meth:`hear` takes one tick's input."""

    def __init__(self, velocity: int = 90) -> None:
        self.held: set[int] = set()  # keys down, as played
        self.pedal = False
        self.sustained: set[int] = set()  # released while the pedal is down: still sounding
        self.velocity = velocity  # of the last strike (velocity "player")
        self._offs_next: set[int] = set()  # struck and released within a tick: off next tick
        self._dropped_seen = 0

    @property
    def sounding(self) -> bool:
        """Whether any of the musician's notes still sounds (a key or the pedal holds it)."""
        return bool(self.held or self.sustained)

    def keys(self) -> tuple[int, ...]:
        return tuple(sorted(self.held | self.sustained))

    def hear(self, messages: Iterable[tuple[float, mido.Message]], dropped: int = 0) -> Heard:
        """One tick's stamped messages, oldest first; ``dropped``: the input's overflow count."""
        offs = self._offs_next
        self._offs_next = set()
        ons: dict[int, int] = {}
        ccs: list[tuple[int, int]] = []
        ignored = 0
        released: str | None = None
        for _, msg in messages:
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                p = msg.note
                self.held.add(p)
                self.sustained.discard(p)
                offs.discard(p)
                ons[p] = msg.velocity
                self.velocity = msg.velocity
            elif kind == "note_off" or kind == "note_on":
                self._release(msg.note, ons, offs)
            elif kind == "control_change":
                number = msg.control
                if number == SUSTAIN:
                    down = msg.value >= 64
                    if self.pedal and not down:
                        self._lift(ons, offs)
                    self.pedal = down
                elif number in (ALL_NOTES_OFF, ALL_SOUND_OFF):
                    # What a DAW sends on Stop. The pedal goes too: a flood or a DAW can leave
                    # it "down" on some channel, and livegen would then wait forever.
                    self._release_all(ons, offs)
                    released = f"All {'Notes' if number == ALL_NOTES_OFF else 'Sound'} Off"
                elif number == RESET_CONTROLLERS:
                    if self.pedal:
                        self._lift(ons, offs)
                    self.pedal = False
                else:
                    ccs.append((number, msg.value))
            else:
                ignored += 1
        for p in ons:
            offs.discard(p)
        if dropped != self._dropped_seen:
            # The queue drops the newest messages, so what is lost came after all heard here.
            self._dropped_seen = dropped
            if self.sounding:
                self._release_all(ons, offs)
                released = "input overflowed (messages dropped)"
        return Heard(
            Tick(tuple(sorted(offs)), tuple(sorted(ons.items()))), tuple(ccs), ignored, released
        )

    def _release(self, p: int, ons: dict[int, int], offs: set[int]) -> None:
        self.held.discard(p)
        if self.pedal:
            self.sustained.add(p)
        elif p in ons:
            self._offs_next.add(p)  # struck and released within the tick: one tick long
        else:
            offs.add(p)

    def _lift(self, ons: dict[int, int], offs: set[int]) -> None:
        for p in self.sustained - self.held:
            (self._offs_next if p in ons else offs).add(p)
        self.sustained.clear()

    def _release_all(self, ons: dict[int, int], offs: set[int]) -> None:
        for p in self.held | self.sustained:
            (self._offs_next if p in ons else offs).add(p)
        self.held.clear()
        self.sustained.clear()
        self.pedal = False
