"""livegen's voice: its Player, the channel its notes sound on, and every way they end.

Every note livegen plays goes through :class:`Voice`: an answer is scheduled for the next
tick and drawn on the piano roll; an answer ends at the next tick (the state hears the
releases then) or at once (a jump of the song position, a stop from the DAW, a regenerate);
a new model takes over the voice and releases the old model's notes. The scheduler's book
remains the last word: whatever is still booked, ``all_off`` ends.
"""

from __future__ import annotations

from livegen.notes import EMPTY_TICK, Tick
from livegen.player import Mark, Player
from livegen.scheduler import OWN, Scheduler
from livegen.snapshot import LIVEGEN, PianoRoll


class Voice:
    """livegen's part of the session, around the Player that plans it."""

    def __init__(self, player: Player, scheduler: Scheduler, roll: PianoRoll, channel: int):
        self.player = player
        self.scheduler = scheduler
        self.roll = roll
        self.channel = channel  # where livegen's notes sound
        self.mark: Mark | None = None  # where the current answer began (regenerate's anchor)

    def play(self, at: int, events: Tick, velocity: int | None = None) -> None:
        """Schedule ``events`` for tick ``at`` (``velocity`` overrides the model's)."""
        if events:
            self.scheduler.schedule(at, events, self.channel, velocity)
            self.roll.record(events, at, LIVEGEN)

    def sound(self, n: int, events: Tick, velocity: int | None = None) -> None:
        """``events`` of tick ``n`` sound now (a parts model's part of the tick it just heard)."""
        if events:
            self.play(n, events, velocity)
            self.scheduler.send_due(n)

    def end(self, n: int, channel: int | None = None) -> None:
        """livegen's notes end at ``n + 1``; then its notes sound on ``channel``, if given."""
        self.scheduler.clear_pending(("note_on",))
        self.play(n + 1, self.player.cancel())
        if channel is not None:
            self.channel = channel  # the old notes end on the old channel

    def end_now(self, n: int) -> None:
        """livegen's notes end now, and nothing it scheduled will sound."""
        offs = self.player.cancel()
        self.scheduler.clear_pending()
        for p in offs.offs:
            self.scheduler.note_off_now(p, self.channel, OWN)
        self.roll.record(offs, n, LIVEGEN)

    def begin_answer(self) -> None:
        self.mark = self.player.mark()

    def regenerate(self, n: int, velocity: int | None) -> bool:
        """Plan the answer again from where it began; False when there is none."""
        if self.mark is None:
            return False
        self.end_now(n)
        self.play(n + 1, self.player.rewind(self.mark), velocity)
        return True

    def reset(self) -> None:
        self.player.reset()
        self.mark = None

    def hand_over(self, player: Player, n: int) -> Tick:
        """``player`` takes over at tick ``n``; returns the old plan, which sounds at ``n``.

        The new Player hears the old plan as part of tick ``n``, and the old notes are
        released at ``n + 1`` (the new Player hears those releases too), so its state
        matches what sounded.
        """
        old = self.player
        planned = old.plan.tick if old.plan is not None else EMPTY_TICK
        offs = old.cancel()
        self.player = player
        self.mark = None  # a mark of the old model's state cannot be rewound
        if offs:
            player.release(offs.offs)
            self.play(n + 1, offs)
        return planned
