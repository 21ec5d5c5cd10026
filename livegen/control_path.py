"""The one control path: queued commands, applied at a tick, reach the parts that act on them.

``controls.apply`` says what a command *means* (new settings and an :class:`Effect`); this
file says *where it lands*: the sampler's temperature, the clock's tempo, the modes, the
voice's key mask, the switch worker, the CC map. Commands from clients and CCs heard at the
tick take the same path, in the order they came (CCs of this tick first, as they were played
before anything a client queues now). Actions that need this tick's step made first
(panic, reset, regenerate) come back to the engine as ``after`` and are finished by
:meth:`ControlPath.finish` once it stepped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from livegen.controls import Action, CcMap, Command, CommandQueue, Settings, apply
from livegen.modes import Modes
from livegen.scales import key_pitches
from livegen.snapshot import LIVEGEN, Picture
from livegen.style import style_weights
from livegen.voice import Voice
from livegen.voice_guards import guards_for

AFTER_STEP = (Action.PANIC, Action.RESET, Action.REGENERATE)  # done once the step is made
TRANSPORT = (Action.STOP, Action.PLAY)  # a toggle is one of them once applied


@dataclass(frozen=True)
class Applied:
    """What this tick's commands ask of the tick: end livegen's notes, finish actions after."""

    ending: bool
    after: tuple[Action, ...]


class ControlPath:
    """Owns the live :class:`Settings`, the command queue and the CC map of one engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        cc: CcMap,
        sampler: Any,
        clock: Any,
        modes: Modes,
        voice: Voice,
        switcher: Any,
        ports: Any,
        picture: Picture,
        fixed_velocity: int,
        recording: Any = None,
    ) -> None:
        self.settings = settings
        self.cc = cc
        self.commands = CommandQueue()
        self.applied = 0  # the sequence number of the last command applied
        self.stray_ccs = 0  # CCs that map to nothing
        self._sampler, self._clock, self._modes = sampler, clock, modes
        self._voice, self._switcher, self._ports = voice, switcher, ports
        self._picture = picture
        self._fixed_velocity = fixed_velocity
        self._recording = recording  # livegen.recording.Recording: toggles, and markers
        self.fit_style(voice.player)  # a style model starts in the configured style

    def submit(self, command: Command) -> int:
        """Queue ``command`` for the next tick (any thread); returns its sequence number."""
        return self.commands.put(command)

    def apply(self, n: int, ccs: list[tuple[int, int]]) -> Applied:
        """Apply the CCs heard at tick ``n``, then every queued command, in order."""
        self.commands.put_first([c for c in map(self._control_change, ccs) if c])
        ending = False
        after: list[Action] = []
        commands = self.commands
        while commands:
            seq, cmd = commands.pop()
            old = self.settings
            styles = self._voice.player.model.cfg.styles
            self.settings, effect = apply(old, cmd, playing=self._modes.playing, styles=styles)
            if effect.refused:
                self._picture.notice(effect.refused)
            if self.settings is not old:
                self._propagate(old, self.settings)
            if self._recording is not None:
                self._recording.applied(old, self.settings, effect)
            ending |= effect.ends_notes
            if effect.action is not None:
                self._modes.act(effect.action, n)
                if effect.action in TRANSPORT:
                    self._propose(effect.action is Action.PLAY)
                if effect.action in AFTER_STEP:
                    after.append(effect.action)
            if effect.switch is not None:
                self._switcher.request(effect.switch.target)
            if effect.learn is not None:
                self.cc.learn(effect.learn.control)
            if effect.mapping is not None:
                self.cc.change(effect.mapping)
            self.applied = max(self.applied, seq)
        return Applied(ending, tuple(after))

    def finish(self, action: Action, n: int, hearing: Any) -> None:
        """An action of tick ``n`` that needed the step made first."""
        voice, picture = self._voice, self._picture
        if action is Action.PANIC:
            voice.scheduler.all_off()
            self._ports.panic()
            voice.roll.close(LIVEGEN, n + 1)
            picture.notice("panic: all notes off")
        elif action is Action.RESET:
            voice.reset()
            picture.notice("state reset")
        elif action is Action.REGENERATE:
            if voice.mark is None or not self._modes.restart_answer():
                picture.notice("nothing to regenerate yet")
            else:
                voice.regenerate(n, self.velocity(hearing))

    def velocity(self, hearing: Any) -> int | None:
        """The velocity livegen's notes take (None: the model's own)."""
        velocity = self.settings.velocity
        if velocity == "player":
            return hearing.velocity
        if velocity == "fixed" or not self._voice.player.codec.carries_velocity:
            return self._fixed_velocity
        return None

    def key_pitches(self):
        """The pitches the key lock allows now (None: off), for a player about to play."""
        return key_pitches(self.settings.key)

    def _propose(self, playing: bool) -> None:
        """A Start/Stop from a client (panel, OSC, a pad) goes to a tick source that shares
        its transport with peers (Link's Start/Stop sync); the others keep their own."""
        propose = getattr(self._clock, "propose_transport", None)
        if propose is not None:
            propose(playing)

    def _control_change(self, cc: tuple[int, int]) -> Command | None:
        """The command a heard CC maps to; a learnt mapping is a notice, a stray CC counted."""
        result = self.cc.command(*cc)
        if isinstance(result, str):
            self._picture.notice(result)
            return None
        if result is None and cc[0] not in self.cc.by_number:
            self.stray_ccs += 1
        return result

    def _propagate(self, old: Settings, new: Settings) -> None:
        """Hand each changed setting to the part that acts on it."""
        if new.temperature != old.temperature:
            self._sampler.temperature = new.temperature
        if new.bpm != old.bpm:
            self._clock.set_tempo(new.bpm)
        if new.latency_ms != old.latency_ms:
            self._clock.latency = new.latency_ms / 1000.0
        if new.mode is not old.mode:
            self._modes.set_mode(new.mode)
        if new.key != old.key:
            self._voice.player.set_key_mask(key_pitches(new.key))
        if new.guards != old.guards:
            self._voice.player.set_guards(guards_for(new.guards))
        if (new.style, new.style_b, new.style_mix) != (old.style, old.style_b, old.style_mix):
            self.fit_style(self._voice.player)

    def fit_style(self, player: Any) -> None:
        """Give ``player`` the session's style (at start, a change, or a model switched in).

        A model with fewer styles than the setting names plays its first one, and says so.
        """
        styles = player.model.cfg.styles
        if not styles:
            return
        s = self.settings
        if max(s.style, s.style_b) >= len(styles):
            self.settings = replace(s, style=0, style_b=0, style_mix=0.0)
            self._picture.notice(
                f"style {max(s.style, s.style_b)}: no such style here; {styles[0]}"
            )
            s = self.settings
        player.set_style(style_weights(len(styles), s.style, s.style_b, s.style_mix))
