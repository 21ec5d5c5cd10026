"""The Player: model + codec + state + sampler. It hears a tick and answers the next one.

Offline generation and the live engine both drive a Player the same way, one call per
tick, so an offline and a live answer are the same for the same seed and input.

Each tick the Player feeds everything that sounded (the musician's notes merged with
its own) into the LSTM state: teacher forcing, always, so the state follows the whole
session. To answer, it plans the next tick on a *fork* of the state: it samples the
tick's tokens there, feeding each back, under the codec's grammar. When the next tick
comes and what sounded is exactly what it planned (the usual case), the fork simply
becomes the state, so nothing is stepped twice; when the musician played too, the
merged tick is fed to the real state instead and the fork is thrown away.

A metric model (livegen/metric.py) is told each token's place in the bar: every token of
tick n, heard or planned, goes in at tick n's position. The Player counts ticks itself,
and the engine gives it its own tick number each step, so that a song position jump or a
grid switch (which renumber ticks) moves the bar position with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from livegen import metric
from livegen.codecs.base import Accept, Codec, Token
from livegen.model import LSTMModel
from livegen.notes import EMPTY_TICK, Tick
from livegen.sampling import Sampler
from livegen.steppers import make_stepper


@dataclass(frozen=True, slots=True)
class Mark:
    """A saved listening state (after a tick was heard, before planning): regenerate's anchor."""

    state: object
    stream: object
    logits: torch.Tensor
    heard_anything: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer for the next tick, and the tokens it fed to the fork."""

    tokens: tuple[Token, ...]
    tick: Tick
    pos: int  # the position index the tokens were fed at


class Player:
    """Listen to a tick, answer a tick; holds the LSTM state for the whole session."""

    def __init__(
        self,
        model: LSTMModel,
        codec: Codec,
        sampler: Sampler,
        device: str | torch.device = "cpu",
        precision: str = "auto",
        beats_per_bar: int = 4,
    ) -> None:
        self.model = model
        self.codec = codec
        self.beats_per_bar = beats_per_bar  # the session's meter: where bars fall
        cfg = model.cfg
        self.metric = cfg.metric
        if cfg.metric and cfg.metric_tpq != codec.ticks_per_quarter:
            raise ValueError(
                f"metric model of {cfg.metric_tpq} ticks per quarter does not fit codec "
                f"{codec.describe()}"
            )
        metric.bar_ticks(codec.ticks_per_quarter, beats_per_bar)  # checks the meter
        self.sampler = sampler
        self.stepper = make_stepper(model, device, precision)
        self.frames = codec.head == "sigmoid"
        self.key_mask: np.ndarray | None = None  # key/scale lock over the vocabulary (or keys)
        self._frame = torch.zeros(codec.vocab_size)  # reused input buffer for pianoroll frames
        self.reset()

    # ---- session -------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the session: zero state, nothing sounding, no plan."""
        self.state = self.stepper.new_state()
        self.fork = self.stepper.new_state()
        self.stream = self.codec.stream()
        self.logits = torch.zeros(self.codec.vocab_size)
        self._fork_logits = torch.zeros(self.codec.vocab_size)
        self.heard_anything = False  # no logits before the first fed token
        self.plan: Plan | None = None
        self.heard = EMPTY_TICK  # everything that sounded at the last tick stepped
        self.sounding: set[int] = set()  # pitches the Player struck that still sound
        self._pending_offs: tuple[int, ...] = ()
        self.ticks = 0  # the number of the next tick to step
        self._fork_stale = False  # the fork was stepped before a style change

    def position(self, n: int) -> int:
        """Tick ``n``'s position index in the bar (0 for a model without metric input)."""
        if not self.metric:
            return 0
        cfg = self.model.cfg
        return metric.position(n, cfg.metric_tpq, self.beats_per_bar, cfg.metric_beats)

    def set_key_mask(self, allowed_pitches) -> None:
        """Only strike pitches in ``allowed_pitches`` (None lifts the lock)."""
        if allowed_pitches is None:
            self.key_mask = None
        else:
            self.key_mask = self.codec.pitch_mask(allowed_pitches)

    def set_style(self, weights) -> None:
        """A style model plays in style ``weights`` (S,) from the next step; state kept."""
        self.stepper.set_style(weights)
        # The plan's fork already heard the next tick in the old style: that tick is heard
        # afresh, from the state as it is, in the new one.
        self._fork_stale = True

    def cancel(self) -> Tick:
        """Drop the plan and release the Player's own notes (stop, panic, mode change).

        Returns the note-offs the caller must send; the state hears them at the next tick.
        """
        self.plan = None
        offs = tuple(sorted(self.sounding))
        self.sounding.clear()
        self._pending_offs = tuple(sorted(set(self._pending_offs) | set(offs)))
        return Tick(offs=offs)

    def mark(self) -> Mark:
        """Save the state as it is after the last ``step`` heard its tick (the plan aside)."""
        state = self.stepper.new_state()
        self.stepper.copy_state(state, self.state)
        return Mark(state, self.stream.copy(), self.logits.clone(), self.heard_anything)

    def rewind(self, mark: Mark) -> Tick:
        """Go back to ``mark`` and plan the next tick afresh (regenerate an answer).

        The caller ends the notes of the abandoned answer itself: the rewound state never
        heard them. Returns the new plan's events.
        """
        self.stepper.copy_state(self.state, mark.state)
        self.stream = mark.stream.copy()
        self.logits.copy_(mark.logits)
        self.heard_anything = mark.heard_anything
        self.sounding.clear()
        self._pending_offs = ()
        self.plan = self._plan()
        tick = self.plan.tick
        self.sounding.update(p for p, _ in tick.ons)
        return tick

    @property
    def pending_releases(self) -> tuple[int, ...]:
        """My notes ended on my behalf (cancel, release) that the state hears at the next tick.

        Part of what the next tick starts from, as the state and the stream are: a plan made
        ahead of the tick (the harmonize table) must have heard exactly these.
        """
        return self._pending_offs

    def release(self, offs) -> None:
        """The state hears ``offs`` at the next tick (notes ended on its behalf)."""
        self._pending_offs = tuple(sorted(set(self._pending_offs) | set(offs)))

    # ---- the tick ------------------------------------------------------------------------
    def step(self, heard: Tick, play: bool, tick: int | None = None) -> Tick:
        """Tick n: take in what sounded at n, and plan tick n+1 if ``play``.

        ``heard`` is the musician's part of tick n; the Player adds its own plan for n.
        ``tick`` is n as the engine counts it (None: one after the last step).
        Returns the note events the Player plans for tick n+1 (empty when not playing).
        """
        n = self.ticks if tick is None else tick
        pos = self.position(n)
        planned = self.plan.tick if self.plan is not None else EMPTY_TICK
        if self._pending_offs:
            planned = planned.merge(Tick(offs=self._pending_offs))
            self._pending_offs = ()
        self.heard = heard = heard.merge(planned)  # what the state takes in at this tick
        tokens = self.stream.listen(heard)
        fresh, self._fork_stale = not self._fork_stale, False
        plan = self.plan
        if fresh and plan is not None and tuple(tokens) == plan.tokens and plan.pos == pos:
            # What sounded is what was planned: the fork already holds this state.
            self.state, self.fork = self.fork, self.state
            self.logits, self._fork_logits = self._fork_logits, self.logits
            self.heard_anything = self.heard_anything or bool(tokens)
        else:
            for token in tokens:
                self.logits.copy_(self._feed(token, self.state, pos))
                self.heard_anything = True
        self.plan = None
        self.ticks = n + 1
        # livegen's notes the model no longer hears (merged away by the codec, or released
        # by the musician's release of the same pitch): it would never end them. End them now.
        lost = Tick(offs=tuple(sorted(self.sounding - self.stream.hears())))
        self.sounding.difference_update(lost.offs)
        if not play or not self.heard_anything:
            return lost
        self.plan = self._plan()
        tick = self.plan.tick
        self.sounding.difference_update(tick.offs)
        self.sounding.update(p for p, _ in tick.ons)
        return lost.merge(tick) if lost else tick

    def _feed(self, token: Token, state, pos: int) -> torch.Tensor:
        if self.frames:
            self._frame.zero_()
            if token:
                self._frame[list(token)] = 1.0
            return self.stepper(self._frame, state, pos)
        return self.stepper(token, state, pos)

    def _plan(self) -> Plan:
        """Sample the next tick's tokens (tick ``self.ticks``) on a fork of the state."""
        pos = self.position(self.ticks)
        self.stepper.copy_state(self.fork, self.state)
        stream = self.stream.copy()
        stream.begin()
        logits = self.logits
        fed: list[Token] = []
        for _ in range(self.codec.max_tokens_per_tick + 1):
            mask = self._mask(stream)
            if self.frames:
                token: Token = self.sampler.sample_frame(logits, mask)
            else:
                token = self.sampler.sample(logits, mask)
            verdict = stream.accept(token)
            if verdict is Accept.DROP:
                break
            logits = self._feed(token, self.fork, pos)
            fed.append(token)
            if verdict is Accept.FINAL:
                break
        self._fork_logits.copy_(logits)
        return Plan(tuple(fed), stream.answer(), pos)

    def _mask(self, stream):
        """The next token's mask: the codec's grammar and the key lock."""
        mask = stream.mask()
        if self.key_mask is not None:
            mask = self.key_mask if mask is None else (mask & self.key_mask)
        return mask

    def set_guards(self, choice) -> None:
        """Sampling guards (livegen/voice_guards.py) are for a parts model's part: a
        single-stream model has none."""
