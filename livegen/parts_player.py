"""A Player for a parts model: it hears your part of tick n, then plays its own part of tick n.

The single-stream Player plans tick n + 1 after hearing tick n. With a parts codec livegen's
part is conditioned on yours *in the same tick*: ``step_parts`` feeds your half of the tick
(teacher forced, then MID), samples my half on a fork of the state under the part's grammar,
and adopts the fork, since what it sampled is what sounds now. When livegen does not play,
my half is teacher forced instead: my notes go on as they are (held), or silence.

Everything else (reset, cancel, release, key lock, the fork) is the Player's.
"""

from __future__ import annotations

from livegen.codecs.parts import PartsCodec
from livegen.notes import EMPTY_TICK, Tick
from livegen.player import Player


class PartsPlayer(Player):
    """Your part in, my part of the same tick out; one LSTM state for the whole session."""

    codec: PartsCodec

    def __init__(
        self, model, codec, sampler, device="cpu", precision="auto", beats_per_bar: int = 4
    ) -> None:
        if not isinstance(codec, PartsCodec):
            raise TypeError(f"PartsPlayer needs a parts codec, not {codec.name!r}")
        super().__init__(model, codec, sampler, device, precision, beats_per_bar)

    def step_parts(self, yours: Tick, play: bool, tick: int | None = None) -> Tick:
        """Tick n: hear your part of n, then play (or, not playing, hear) my part of n.

        ``tick`` is n as the engine counts it (None: one after the last step); both halves
        go in at tick n's bar position (a metric model). Returns my part's note events for
        tick n, to sound now: the sampled half when ``play``, else nothing (my notes held
        so far go on; ``cancel`` ends them).
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
        if play:
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
        self.heard = yours.merge(mine)
        self.sounding.difference_update(mine.offs)
        self.sounding.update(p for p, _ in mine.ons)
        # My notes the stream no longer hears would never be ended by the model: end them now.
        lost = tuple(sorted(self.sounding - stream.mine))
        if lost:
            self.sounding.difference_update(lost)
            mine = mine.merge(Tick(offs=lost))
        return mine
