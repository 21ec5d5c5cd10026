"""Modes: what livegen does this tick (listen, answer, accompany, play on), as a state machine.

:class:`Modes` is told each tick what the musician did (struck a key, still sounding) and
returns a :class:`Decision`: whether livegen plans the next tick, and whether its own
notes must end now (an answer over, a mode left, the musician back in). It holds no model,
no clock and no ports, so every transition is a pure test. The engine carries the decision
out.

- ``continue`` (call and response): listen; when the musician has been silent for
  ``silence_ticks`` (or end of call came), answer for ``response_bars`` (0: as long as the
  call), then listen again. Striking a key while livegen answers ends the answer.
- ``accompany``: play every tick while the musician plays; end livegen's notes when they
  stop.
- ``harmonize`` (parts models): as ``accompany``, and the harmony of a note you strike sounds
  with it, from a table planned one tick ahead (livegen/harmonize.py). With a single-stream
  model it plays as ``accompany`` (the engine says so once).
- ``free``: play on without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livegen.switch import Regrid


class Mode(str, Enum):
    CONTINUE = "continue"
    ACCOMPANY = "accompany"
    HARMONIZE = "harmonize"
    FREE = "free"

    def next(self) -> Mode:
        members = list(Mode)
        return members[(members.index(self) + 1) % len(members)]

    def __str__(self) -> str:
        return self.value


class Phase(str, Enum):
    LISTENING = "listening"
    ANSWERING = "answering"
    ACCOMPANYING = "accompanying"
    PLAYING = "playing"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


class End(Enum):
    """What becomes of livegen's own notes at this tick."""

    NONE = 0  # they go on
    NOTES = 1  # release them at the next tick; nothing more is planned
    BEGIN = 2  # an answer begins here: the engine marks the state (regenerate's anchor)


@dataclass(frozen=True, slots=True)
class Decision:
    play: bool  # plan the next tick
    end: End = End.NONE


LISTEN = Decision(False)
PLAY = Decision(True)
END = Decision(False, End.NOTES)
BEGIN = Decision(True, End.BEGIN)


class Modes:
    """The call-and-response phase and the mode; one :meth:`decide` per tick."""

    def __init__(self, mode: Mode, *, silence_ticks: int, ticks_per_bar: int) -> None:
        self.mode = Mode(mode)
        self.silence_ticks = silence_ticks
        self.ticks_per_bar = ticks_per_bar
        self.phase = Phase.LISTENING
        self.playing = True  # False after stop: nothing is planned until play
        self.call_start: int | None = None  # the tick the current call began
        self.last_heard = -(10**9)  # the last tick the musician struck or held a note
        self.answer_len = 0
        self.answer_left = 0
        self._want_answer = False  # end of call came: answer at the next decision

    # ---- controls ------------------------------------------------------------------------
    def set_mode(self, mode: Mode) -> bool:
        """Change mode; True if it changed (livegen's notes must then end)."""
        mode = Mode(mode)
        if mode is self.mode:
            return False
        self.mode = mode
        self._listen()
        return True

    def end_call(self, n: int) -> bool:
        """Answer at the next decision without waiting for the silence (continue mode)."""
        if self.mode is not Mode.CONTINUE or self.phase is not Phase.LISTENING:
            return False
        if self.call_start is None:
            self.call_start = n
        self._want_answer = True
        return True

    def stop(self) -> None:
        self.playing = False
        self.phase = Phase.STOPPED
        self.call_start = None

    def play(self) -> None:
        self.playing = True
        if self.phase is Phase.STOPPED:
            self.phase = Phase.LISTENING

    def interrupt(self) -> None:
        """Panic or reset: whatever livegen was answering is over; the next call starts anew."""
        self.call_start = None
        if self.phase is Phase.ANSWERING:
            self.phase = Phase.LISTENING

    def act(self, action: str, n: int) -> None:
        """What a control action (controls.Action, a str) does to the phase, before deciding."""
        if action == "play":
            self.play()
        elif action == "stop":
            self.stop()
        elif action == "end_call":
            self.end_call(n)
        elif action in ("panic", "reset"):
            self.interrupt()

    def restart_answer(self) -> bool:
        """Regenerate: the answer starts over from its beginning; False outside continue."""
        if self.mode is not Mode.CONTINUE or self.answer_len == 0:
            return False
        self.answer_left = self.answer_len
        self.phase = Phase.ANSWERING
        return True

    def regrid(self, regrid: Regrid) -> None:
        """The ticks are renumbered (a model of another grid): ``regrid(t)`` is tick t's number."""
        if self.last_heard > -(10**9):
            self.last_heard = regrid(self.last_heard)
        if self.call_start is not None:
            self.call_start = regrid(self.call_start)
        ticks_per_bar = regrid.length(self.ticks_per_bar)
        scale = ticks_per_bar / self.ticks_per_bar
        self.answer_len = round(self.answer_len * scale)
        self.answer_left = round(self.answer_left * scale)
        self.ticks_per_bar = ticks_per_bar
        # The silence a call ends with lasts as long as before, in the new ticks.
        self.silence_ticks = max(1, round(self.silence_ticks * scale))

    # ---- the tick ------------------------------------------------------------------------
    def decide(self, n: int, struck: bool, sounding: bool, response_bars: float) -> Decision:
        """Tick ``n``: the musician ``struck`` a key in it, or keys are ``sounding``."""
        if struck or sounding:
            self.last_heard = n
        if not self.playing:
            self.phase = Phase.STOPPED
            return LISTEN
        if self.mode is Mode.FREE:
            self.phase = Phase.PLAYING
            return PLAY
        quiet = n - self.last_heard
        if self.mode in (Mode.ACCOMPANY, Mode.HARMONIZE):
            if quiet < self.silence_ticks:
                self.phase = Phase.ACCOMPANYING
                return PLAY
            was = self.phase
            self.phase = Phase.LISTENING
            # The musician stopped: livegen's notes end with them.
            return END if was is Phase.ACCOMPANYING else LISTEN
        return self._call_and_response(n, struck, quiet, response_bars)

    def _call_and_response(self, n: int, struck: bool, quiet: int, bars: float) -> Decision:
        if self.phase is Phase.ANSWERING:
            if struck:  # the musician comes back in: stop answering, this is a new call
                self.phase = Phase.LISTENING
                self.call_start = n
                return END
            self.answer_left -= 1
            if self.answer_left > 0:
                return PLAY
            self.phase = Phase.LISTENING
            return END
        if self.phase is not Phase.LISTENING:  # a mode left, or started again
            self.phase = Phase.LISTENING
        if struck and self.call_start is None:
            self.call_start = n
        if self.call_start is None:
            return LISTEN
        if quiet < self.silence_ticks and not self._want_answer:
            return LISTEN
        call = max(1, self.last_heard - self.call_start + 1)
        self.answer_len = call if bars == 0 else max(1, round(bars * self.ticks_per_bar))
        self.answer_left = self.answer_len
        self.call_start = None
        self._want_answer = False
        self.phase = Phase.ANSWERING
        return BEGIN

    def _listen(self) -> None:
        self.phase = Phase.LISTENING if self.playing else Phase.STOPPED
        self.call_start = None
        self._want_answer = False
