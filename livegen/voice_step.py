"""How livegen's voice takes a tick: a single-stream model plans n + 1, a parts model sounds n.

:class:`VoiceStep` is the engine's one call per tick into the model (engine ``tick``):

- a single-stream :class:`~livegen.player.Player` hears tick n (the musician's notes, and
  at a switch the old model's plan) and plans tick n + 1, scheduled there;
- a :class:`~livegen.parts_player.PartsPlayer` hears your half of tick n and sounds its own
  half of the same tick now, right after the step. ``accompany`` plays it every tick while
  you play; ``continue`` answers with it while your half is silence; ``free`` plays it
  whatever yours does. At a switch to a parts model the old plan sounds as its half of
  that tick and it plays from the next (``take_over``).
- in ``harmonize`` with a parts model, the table (harmonize.py) for tick n is planned right
  after tick n - 1; :meth:`between` sends the harmony of a note-on from it the moment it
  arrives, and tick n adopts that row, or the row of what you held or released (sounded at
  n's deadline). A yours no row matches is stepped as usual, with what was sent heard.

A parts model whose part of yours is monophonic hears it through ``melody_tick`` (a strike
replaces the held note, a chord's top note is the melody); chords and notes folded into
your part's range are each said once. Every note sent from the table is booked at once in
the scheduler and the Player, so each path that ends livegen's notes ends these too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import mido

from livegen.controls import Settings
from livegen.harmonize import Planner, Table, melody_tick
from livegen.modes import Mode
from livegen.notes import EMPTY_TICK, Tick
from livegen.parts_player import PartsPlayer
from livegen.realtime import StepTimes, normal_priority
from livegen.scheduler import OWN
from livegen.snapshot import LIVEGEN
from livegen.table_worker import TableWorker
from livegen.voice import Voice


class VoiceStep:
    """The tick's step of livegen's voice, and the harmonize table between ticks."""

    def __init__(self, notice: Callable[[str], None]) -> None:
        self.notice = notice
        self.table: Table | None = None  # planned for the next tick (harmonize)
        self.fired: int | None = None  # the table's row sent since the last tick
        self.sent = EMPTY_TICK  # what was sent of it (a re-fire changes it)
        self.top = -1  # the highest note struck since the last tick (a melody's chord)
        self.refired = False  # a second row replaced the first: tick n steps, hearing sent
        self.velocity: int | None = None  # livegen's velocity when the table was planned
        self.follow_velocity = False  # velocity "player": the struck note's
        self.plans = StepTimes()  # how long planning the table takes on the tick thread
        # The engine's own loop builds the table in a TableWorker (table_worker.py); a tick
        # called by hand (tests, a manual clock) builds it at once, on the calling thread.
        self.background = False
        self.worker: TableWorker | None = None
        self._planner: Planner | None = None
        self.waiting: list[tuple[float, mido.Message]] = []  # note-ons before their table
        self.answered = 0  # note-ons answered from a table between ticks
        self.waited = 0  # of those, answered only once the table was built
        self.unanswered = 0  # note-ons whose table came too late: their tick answered them
        self.waits: list[float] = []  # how long each of those waited (seconds)
        self._said: set[str] = set()
        self._single_warned: object = None  # the single-stream player told about harmonize

    def say_once(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.notice(text)

    # ---- the tick ------------------------------------------------------------------------
    def step(self, voice: Voice, heard: Tick, adopt: Tick | None, play: bool, n: int, velocity):
        """Tick ``n``: the player hears ``heard`` (and ``adopt``, a switch's old plan)."""
        player = voice.player
        table, fired, sent, refired = self._current(n), self.fired, self.sent, self.refired
        self.table, self.fired, self.sent, self.top = None, None, EMPTY_TICK, -1
        if self.worker is not None:
            self.worker.taken()  # no later pass between ticks may take it for another tick
        self.unanswered += len(self.waiting)  # heard at this tick, answered by its step
        self.waiting = []
        self.refired = False
        if not isinstance(player, PartsPlayer):
            if adopt is not None:  # a switch at this tick: the old plan sounded now
                heard = heard.merge(adopt)
            voice.play(n + 1, player.step(heard, play, n), velocity)
            return
        yours = self._yours(player, heard)
        if adopt:
            player.take_over(yours, adopt, n)
            return
        if table is not None and not table.valid_for(player, n):
            table = fired = None  # ended, reset or switched since: whatever was sent ended too
        if fired is not None:
            b = table.row_for(yours)
            if b == fired and not refired:
                got = table.adopt(b, yours)
            else:  # what you played is not the row that fired: its notes sounded, heard so
                got = player.step_parts(yours, play, n, mine=sent)
            # Sent already; only the notes the stream lost since go out now.
            voice.sound(n, Tick(offs=tuple(p for p in got.offs if p not in sent.offs)))
            return
        b = table.row_for(yours) if table is not None and play else None
        got = table.adopt(b, yours) if b is not None else player.step_parts(yours, play, n)
        voice.sound(n, got, velocity)

    def _yours(self, player: PartsPlayer, heard: Tick) -> Tick:
        part = player.codec.your_part
        if any(not part.low <= p <= part.high for p, _ in heard.ons):
            self.say_once(
                "fold", f"notes outside your part's range {part.low}..{part.high} fold by octaves"
            )
        if part.max_notes > 1:
            return heard
        yours, chord = melody_tick(heard, player.stream.yours)
        if chord:
            self.say_once("chord", "a chord into your melody part: its highest note is the melody")
        return yours

    # ---- between ticks -------------------------------------------------------------------
    def plan(self, voice: Voice, n: int, settings: Settings, playing: bool, velocity) -> None:
        """After tick ``n - 1``: plan tick ``n``'s table when harmonizing with a parts model."""
        player = voice.player
        if settings.mode is not Mode.HARMONIZE:
            return
        if not isinstance(player, PartsPlayer):
            if self._single_warned is not player:
                self._single_warned = player
                self.notice("harmonize needs a parts model: this one plays as in accompany")
            return
        if playing:
            self.velocity = velocity
            self.follow_velocity = settings.velocity == "player"
            if self.background:
                if self.worker is None or self.worker.player is not player:
                    self.close(say=False)  # a switch: the old model's worker goes
                    self.worker = TableWorker(player)
                self.table = self.worker.plan(n)  # None until built, unless built ahead
                return
            if self._planner is None or self._planner.player is not player:
                self._planner = Planner(player)
            t0 = time.perf_counter()
            with normal_priority():  # the tick's output has left; jackd's clients come first
                self.table = self._planner.plan(n)
            self.plans.add(time.perf_counter() - t0, n)

    def _current(self, n: int) -> Table | None:
        """The table for tick ``n``, once built (the worker's, when it builds them)."""
        if self.table is None and self.worker is not None:
            self.table = self.worker.ready(n)
        return self.table

    def poll(self, n: int, voice: Voice) -> None:
        """Between ticks, each pass: note-ons that came before their table, answered now."""
        if self.waiting and self._current(n) is not None:
            waiting, self.waiting = self.waiting, []
            now = time.perf_counter()
            for t, msg in waiting:
                self.waits.append(now - t)
                self.waited += 1
                self.between(msg, n, voice)

    def close(self, say: bool = True) -> None:
        """Stop the worker: the session ends (``say`` what it did), or the model changed."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        worker.close(wait=say)
        if say and (self.answered or self.unanswered):
            wait = max(self.waits, default=0.0) * 1e3
            b = worker.builds
            self.notice(
                f"harmonize: {self.answered} note-ons answered between ticks ({self.waited} "
                f"after waiting for the table, at most {wait:.1f} ms), {self.unanswered} at "
                f"their tick; tables built {worker.built}, built ahead and used "
                f"{worker.reused}; build p50 {b.p50 / 1e3:.1f} ms, p99 {b.p99 / 1e3:.1f} ms"
            )

    def between(self, msg: mido.Message, n: int, voice: Voice) -> None:
        """A note-on arrived before tick ``n``: its harmony goes out now, from the table."""
        if msg.type != "note_on" or msg.velocity == 0:
            return
        table = self._current(n)
        if table is None:
            if self.worker is not None and self.worker.building(n):
                self.waiting.append((time.perf_counter(), msg))
            return
        player = voice.player
        if not table.valid_for(player, n):
            return
        part = player.codec.your_part
        if self.fired is not None and (part.max_notes > 1 or msg.note <= self.top):
            return  # not the melody (a lower note of a chord), or no row for two strikes
        self.top = msg.note
        b = part.fold(msg.note) - part.low  # the strike rows come first, by pitch
        row = table.rows[b]
        if not row.usable:
            return
        velocity = msg.velocity if self.follow_velocity else self.velocity
        # A re-fire (a higher note struck in the same tick) replaces the first row's notes.
        old = {p for p, _ in self.sent.ons}
        new = {p for p, _ in row.mine.ons}
        offs = tuple(sorted((old - new) | set(row.mine.offs)))
        ons = tuple(
            (p, v if velocity is None else velocity) for p, v in row.mine.ons if p not in old
        )
        scheduler, channel = voice.scheduler, voice.channel
        for p in offs:
            scheduler.note_off_now(p, channel, OWN)
        for p, v in ons:
            scheduler.note_on_now(p, v, channel, OWN)
        # Booked in the Player too, so cancel (stop, switch, jump) ends them before tick n.
        player.sounding.difference_update(offs)
        player.sounding.update(p for p, _ in ons)
        voice.roll.record(Tick(offs, ons), n, LIVEGEN)
        # What sounded in this tick so far, as my half of it: all releases, the strikes on.
        struck = {p: v for p, v in self.sent.ons if p not in offs} | dict(ons)
        self.sent = Tick(
            tuple(sorted(set(self.sent.offs) | set(offs))), tuple(sorted(struck.items()))
        )
        self.refired = self.fired is not None
        self.fired = b
        self.answered += 1
        if self.worker is not None and not self.refired:  # tick n adopts row b: build on it
            self.worker.fired(table, b)
