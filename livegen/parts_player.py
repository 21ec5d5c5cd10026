"""A Player for a parts model: it hears your part of tick n, then plays its own part of tick n.

The single-stream Player plans tick n + 1 after hearing tick n. With a parts codec livegen's
part is conditioned on yours *in the same tick*: ``step_parts`` feeds your half of the tick
(teacher forced, then MID), samples my half on a fork of the state under the part's grammar,
and adopts the fork, since what it sampled is what sounds now. When livegen does not play,
my half is teacher forced instead: my notes go on as they are (held), or silence.

A half of mine can also come from outside the step: the harmonize table (harmonize.py)
planned it for the yours that came and already sent it (``mine=``, teacher forced, or
``adopt`` of the planned state itself), or, at a model switch, the old model's plan sounded
in it (``take_over``). Everything else (reset, cancel, release, key lock, the fork) is the
Player's. :func:`make_player` picks the Player a codec needs.
"""

from __future__ import annotations

from livegen.codecs.base import Codec
from livegen.codecs.parts import PartsCodec
from livegen.notes import EMPTY_TICK, Tick
from livegen.player import Mark, Player
from livegen.voice_guards import GuardChoice, VoiceGuards


def make_player(model, codec: Codec, sampler, device="cpu", precision="auto", beats_per_bar=4):
    """A :class:`PartsPlayer` for a parts codec, else the single-stream :class:`Player`."""
    kind = PartsPlayer if isinstance(codec, PartsCodec) else Player
    return kind(model, codec, sampler, device, precision, beats_per_bar)


class PartsPlayer(Player):
    """Your part in, my part of the same tick out; one LSTM state for the whole session."""

    codec: PartsCodec

    def __init__(
        self, model, codec, sampler, device="cpu", precision="auto", beats_per_bar: int = 4
    ) -> None:
        if not isinstance(codec, PartsCodec):
            raise TypeError(f"PartsPlayer needs a parts codec, not {codec.name!r}")
        self.guards: VoiceGuards | None = VoiceGuards(codec)  # on by default (BENCHMARKS.md)
        super().__init__(model, codec, sampler, device, precision, beats_per_bar)

    def reset(self) -> None:
        super().reset()
        self._tick_guard = None
        if self.guards is not None:
            self.guards.reset()

    def set_guards(self, choice: GuardChoice | None) -> None:
        """The sampling guards of my part: ``choice`` of them (a fresh memory), None: off."""
        if choice == (self.guards.choice if self.guards is not None else None):
            return
        self.guards = VoiceGuards(self.codec, choice) if choice is not None else None
        if self.guards is not None:
            self.guards.key_locked = self.key_mask is not None

    def set_key_mask(self, allowed_pitches) -> None:
        super().set_key_mask(allowed_pitches)
        if self.guards is not None:  # the user's key wins over the key guard's estimate
            self.guards.key_locked = self.key_mask is not None

    def _plan(self):
        """My half, sampled under the guards of this tick (none when they are off)."""
        guards, stream = self.guards, self.stream
        mine_half = guards is not None and stream.at_mid  # not a whole tick (generic tools)
        self._tick_guard = guards.tick_guard(self.ticks, [stream.yours]) if mine_half else None
        return super()._plan()

    def _mask(self, stream):
        mask = super()._mask(stream)
        if self._tick_guard is None:
            return mask
        return self.guards.mask(self._tick_guard, [stream], mask[None])[0]

    def step_parts(
        self, yours: Tick, play: bool, tick: int | None = None, mine: Tick | None = None
    ) -> Tick:
        """Tick n: hear your part of n, then play (or, not playing, hear) my part of n.

        ``tick`` is n as the engine counts it (None: one after the last step); both halves
        go in at tick n's bar position (a metric model). Returns my part's note events for
        tick n, to sound now: the sampled half when ``play``, else nothing (my notes held
        so far go on; ``cancel`` ends them). ``mine``: my half already sounded (sent from
        the harmonize table): heard as it is, whatever ``play`` says.
        """
        self.ticks = n = self.ticks if tick is None else tick  # _plan plans tick self.ticks
        pos = self.position(n)
        stream = self.stream
        if self._pending_offs:  # ended on my behalf (cancel, release): my half omits them
            stream.release_mine(self._pending_offs)
            self._pending_offs = ()
        self.plan = None
        for token in stream.listen_yours(yours):  # your half: always teacher forced
            self.logits.copy_(self._feed(token, self.state, pos))
        self.heard_anything = True
        if mine is not None:
            for token in stream.listen_mine(mine):
                self.logits.copy_(self._feed(token, self.state, pos))
        elif play:
            plan = self._plan()  # my half on the fork, from the stream as it stands after MID
            mine = plan.tick
            tokens = stream.listen_mine(mine)
            if tuple(tokens) == plan.tokens:
                # The fork heard exactly this half already: adopt it instead of stepping again.
                self.state, self.fork = self.fork, self.state
                self.logits, self._fork_logits = self._fork_logits, self.logits
            else:  # cannot happen while the grammar and listening agree; stay correct if not
                for token in tokens:
                    self.logits.copy_(self._feed(token, self.state, pos))
        else:
            mine = EMPTY_TICK
            for token in stream.listen_mine(mine):
                self.logits.copy_(self._feed(token, self.state, pos))
        self.ticks = n + 1
        return self._sounded(yours, mine)

    def _sounded(self, yours: Tick, mine: Tick) -> Tick:
        """Tick n was heard as ``yours`` and ``mine``: what sounds, and notes now lost."""
        stream = self.stream
        if self.guards is not None:
            self.guards.heard(self.ticks - 1, stream)
        self.heard = yours.merge(mine)
        self.sounding.difference_update(mine.offs)
        self.sounding.update(p for p, _ in mine.ons)
        # My notes the stream no longer hears would never be ended by the model: end them now.
        lost = tuple(sorted(self.sounding - stream.mine))
        if lost:
            self.sounding.difference_update(lost)
            mine = mine.merge(Tick(offs=lost))
        return mine

    def adopt(self, yours: Tick, mine: Tick, state, logits, stream, tick: int) -> Tick:
        """Tick ``tick`` as a harmonize candidate planned it: its state becomes mine, no step.

        ``state`` (a stepper state), ``logits`` and ``stream`` are the candidate's after both
        halves; it was planned with the releases pending then, so none are pending now.
        """
        self.stepper.copy_state(self.state, state)
        self.logits.copy_(logits)
        self.stream = stream
        self._pending_offs = ()
        self.plan = None
        self.heard_anything = True
        self.ticks = tick + 1
        return self._sounded(yours, mine)

    def take_over(self, yours: Tick, old_plan: Tick, tick: int) -> Tick:
        """The tick of a switch to this model: the old model's plan sounded now as my half.

        It is heard as mine, teacher forced, but stays the old model's: the voice already
        ends its notes at the next tick, and this model hears their release then (pending,
        folded as my part heard them). Returns nothing to sound; I play from the next tick.
        """
        pending, self._pending_offs = self._pending_offs, ()
        self.step_parts(yours, play=False, tick=tick, mine=old_plan)
        self.sounding.difference_update(p for p, _ in old_plan.ons)
        fold = self.codec.my_part.fold
        self._pending_offs = tuple(sorted(set(pending) | {fold(p) for p in pending}))
        return EMPTY_TICK

    def rewind(self, mark: Mark) -> Tick:
        """Regenerate: back to ``mark`` (after the answer's first tick, both halves heard).

        My half of that tick is in the mark's state, and the voice has ended those notes:
        the next tick hears them released, and samples the answer afresh from there.
        """
        self.stepper.copy_state(self.state, mark.state)
        self.stream = mark.stream.copy()
        self.logits.copy_(mark.logits)
        self.heard_anything = mark.heard_anything
        self.sounding.clear()
        self.plan = None
        self._pending_offs = tuple(sorted(self.stream.mine))
        return EMPTY_TICK
