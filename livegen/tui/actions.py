"""The panel's control keys: each action builds a command value and submits it.

A command acts at the next tick, so until a snapshot says it was applied the panel goes
on from the value it asked for (``_wanted``): two quick presses of ``]`` raise the
temperature twice, not once. A refused value (out of ``LIMITS``, or the engine gone) is
a notice, never a traceback.

A mixin of :class:`livegen.tui.app.LivegenApp` and of nothing else: Textual looks an
action up as an ``action_*`` method of the app, so these live on the app's class; this
module only keeps them apart from the layout and the snapshot reading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livegen.controls import LIMITS, Action, Control, Do, Set
from livegen.errors import LivegenError
from livegen.modes import Mode
from livegen.snapshot import Snapshot


class ControlActions:
    """The ``action_*`` methods behind the control keys of :mod:`livegen.tui.keys`."""

    # Provided by the app.
    engine: Any
    snap: Snapshot
    read_snapshot: Callable[[], Snapshot]
    say: Callable[..., None]
    _wanted: dict[str, tuple[Any, int]]

    def _current(self, key: str) -> Any:
        """A control's value: the last asked for until the engine applied it, else its own."""
        snap = self.read_snapshot()
        wanted = self._wanted.get(key)
        if wanted is not None and snap.applied < wanted[1]:
            return wanted[0]
        return getattr(snap, key)

    def _submit(self, make: Callable[[], Any]) -> int | None:
        """Build a command and submit it; a refused value is a notice. Acts at the next tick."""
        try:
            return self.engine.submit(make())
        except (ValueError, LivegenError) as err:  # a bad value, or the engine is gone
            self.say(str(err), warning=True)
            return None

    def _set(self, control: Control, value: Any) -> bool:
        try:
            command = Set(control, value)
        except ValueError as err:  # out of LIMITS, not a key...: one line
            self.say(str(err), warning=True)
            return False
        seq = self._submit(lambda: command)
        if seq is None:
            return False
        self._wanted[control.value] = (command.value, seq)
        return True

    def _do(self, action: Action) -> bool:
        return self._submit(lambda: Do(action)) is not None

    def action_temperature(self, delta: float) -> None:
        limit = LIMITS[Control.TEMPERATURE]
        self._set(Control.TEMPERATURE, round(limit.clamp(self._current("temperature") + delta), 2))

    def action_tempo(self, delta: float) -> None:
        if self.snap.clock == "midi":
            self.say("the tempo follows the DAW's MIDI clock", warning=True)
            return
        limit = LIMITS[Control.BPM]
        self._set(Control.BPM, limit.clamp(round(self._current("bpm") + delta, 1)))

    def action_cycle_mode(self) -> None:
        mode = Mode(self._current("mode")).next()
        if self._set(Control.MODE, mode):
            self.say(f"mode: {mode.value}", toast=False)

    def action_response(self, delta: float) -> None:
        limit = LIMITS[Control.RESPONSE_BARS]
        self._set(
            Control.RESPONSE_BARS, limit.clamp(float(int(self._current("response_bars")) + delta))
        )

    def action_channel(self, delta: int) -> None:
        channels = int(LIMITS[Control.CHANNEL].high) + 1  # wraps from 1 to 16 and back
        self._set(Control.CHANNEL, (self._current("channel") + delta) % channels)

    def action_style(self, which: str) -> None:
        """The next of the model's styles for style A (``style``) or B (``style_b``)."""
        styles = self.read_snapshot().styles
        if not self._has_styles():
            return
        index = (self._current(which) + 1) % len(styles)
        if self._set(Control(which), index):
            self.say(f"{'style' if which == 'style' else 'style B'}: {styles[index]}", toast=False)

    def action_style_mix(self, delta: float) -> None:
        if self._has_styles():
            mix = LIMITS[Control.STYLE_MIX].clamp(round(self._current("style_mix") + delta, 2))
            self._set(Control.STYLE_MIX, mix)

    def _has_styles(self) -> bool:
        # The latest snapshot, not the one last drawn: a key pressed before the panel drew the
        # switched-in style model said "no style input" and sent nothing.
        snap = self.read_snapshot()
        if not snap.styles:  # unavailable: the engine would refuse it too
            self.say(f"style: {snap.model} has no style input (style_poly has)", warning=True)
        return bool(snap.styles)

    def action_passthrough(self) -> None:
        on = not self._current("passthrough")
        if self._set(Control.PASSTHROUGH, on):
            self.say(f"pass-through {'on' if on else 'off'}", toast=False)

    def action_toggle(self) -> None:
        playing = self._current("playing")
        seq = self._submit(lambda: Do(Action.STOP if playing else Action.PLAY))
        if seq is None:
            return
        self._wanted["playing"] = (not playing, seq)
        if playing:
            self.say("stopped: livegen's notes end; listening goes on (space starts)", toast=False)
        else:
            self.say("started", toast=False)

    def action_panic(self) -> None:
        self._do(Action.PANIC)

    def action_reset(self) -> None:
        self._do(Action.RESET)

    def action_record(self) -> None:
        self._do(Action.RECORD)  # the engine names the file and says so in a notice

    def action_regenerate(self) -> None:
        self._do(Action.REGENERATE)

    def action_end_call(self) -> None:
        if self.snap.mode != "continue":
            self.say("end of call is for continue mode", warning=True)
            return
        self._do(Action.END_CALL)
