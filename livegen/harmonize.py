"""The harmonize table: livegen's part of tick n, planned after tick n - 1 for each yours.

In ``harmonize`` mode (design.md, "harmonize") the harmony of a note you strike sounds with
it, not a tick later. Right after tick n - 1's step, :func:`plan` forks the state once per
*yours* half you might play at tick n: each pitch of your part's range struck (your part is
monophonic in chorale_harmony: a strike replaces the held note), your notes held, and
silence. One batched step of the model itself (``B = range + 2`` rows; the fused batch-1
stepper stays for the normal steps) feeds each candidate's half of yours, then samples my
half on every row at once, under each row's grammar. A :class:`Table` keeps each row's
events, tokens, state, logits and stream, so a note-on arriving between ticks is answered
from it at once (engine ``_between``) and tick n adopts that row instead of stepping again.

:func:`melody_tick` is how a monophonic part hears a tick, the table and the step alike: a
strike replaces the held note (a legato overlap would otherwise keep the higher one), and a
chord's highest note is the melody. Notes outside your part's range fold by octaves into it
(the codec's fold), so the row of the folded pitch answers them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from livegen.codecs.base import Accept
from livegen.codecs.parts_stream import PartsStream
from livegen.model import State
from livegen.notes import DEFAULT_VELOCITY, EMPTY_TICK, Tick
from livegen.parts_player import PartsPlayer
from livegen.sampling import Sampler
from livegen.steppers.batch import BatchStep
from livegen.voice_guards import VoiceGuards, table_guard


@dataclass(frozen=True, slots=True)
class Row:
    """One candidate of the table: your half, my half planned for it, and what it left."""

    yours: Tick
    tokens: tuple[int, ...]  # your half's tokens (ending with MID): what a heard yours matches
    mine: Tick  # my half as events, to sound
    stream: PartsStream  # after both halves
    usable: bool  # my half listens back to the tokens sampled (always, unless the grammar errs)


class Table:
    """The rows planned for tick ``tick`` from one state of one player, and their states."""

    def __init__(self, job: Job, rows, h, c, logits):
        self.player = job.player
        self.tick = job.tick
        self.base = job.base  # the player's stream the rows were planned from
        self.pending = job.pending  # the player's pending releases then (the rows heard them)
        self.job = job  # what else it was planned from (the draws, the key lock)
        self.rows: list[Row] = rows
        self._h, self._c = h, c  # (L, B, H) each: every row's state after both halves
        self._logits = logits  # (B, V) on the CPU
        self.by_tokens = {row.tokens: b for b, row in enumerate(rows)}
        self.next_jobs: list[Job] = []  # the next tick's tables from the quiet rows (worker)

    def sampled_as_now(self) -> bool:
        """Whether the player samples now as the rows were sampled (key lock, temperature,
        top-p): a table planned ahead of a tick is stale once a control changed them."""
        now, then = self.player.sampler, self.job.sampler
        return (
            self.player.key_mask is self.job.key
            and getattr(self.player, "guards", None) is self.job.guards_of
            and now.temperature == then.temperature
            and now.top_p == then.top_p
        )

    def quiet_rows(self) -> list[int]:
        """The rows in which you strike nothing (held, released, or silence): the likeliest
        next states without a note-on, the ones a table ahead is planned from."""
        part = self.player.codec.your_part
        strikes = part.high - part.low + 1  # the strike rows come first (candidates)
        return [b for b in range(strikes, len(self.rows)) if self.rows[b].usable]

    def ahead(self, b: int, sampler: Sampler) -> Job:
        """The job of the next tick's table, as if row ``b`` becomes this tick (adopted).

        Copies what it reads: the row's stream becomes the player's when adopted, and the
        tick thread goes on with it while the next table is built.
        """
        row = self.rows[b]
        h, c = self._h[:, b : b + 1].clone(), self._c[:, b : b + 1].clone()  # (L, 1, H) x2
        pos = self.player.position(self.tick + 1)
        job = self.job
        guards = guards_memory(job.guards)
        if guards is not None:  # as the player's will have heard this tick, once adopted
            guards.heard(self.tick, row.stream)
        return Job(job.player, self.tick + 1, row.stream, row.stream.copy(), (), h, c, pos,
                   sampler, job.key, job.guards_of, guards)  # fmt: skip

    def valid_for(self, player, tick: int) -> bool:
        """Whether the table still describes ``player`` at ``tick`` (nothing ended, reset,
        switched or jumped since it was planned)."""
        return (
            player is self.player
            and tick == self.tick
            and player.stream is self.base
            and player.pending_releases == self.pending
        )

    def row_for(self, yours: Tick) -> int | None:
        """The row whose half of yours is what ``yours`` makes the stream hear, if any."""
        tokens = tuple(self.base.copy().listen_yours(yours))
        b = self.by_tokens.get(tokens)
        return b if b is not None and self.rows[b].usable else None

    def adopt(self, b: int, yours: Tick) -> Tick:
        """Row ``b`` becomes the player's tick (no step); returns my half (and lost offs)."""
        row = self.rows[b]
        state = State(self._h[:, b : b + 1], self._c[:, b : b + 1])  # (L, 1, H) x2
        return self.player.adopt(yours, row.mine, state, self._logits[b], row.stream, self.tick)


def melody_tick(heard: Tick, held: set[int]) -> tuple[Tick, bool]:
    """A monophonic part's half of a tick: a strike replaces ``held``; a chord's top is it.

    Returns the tick and whether it was a chord (more than one note struck at once).
    """
    if not heard.ons:
        return heard, False
    top = max(heard.ons)
    offs = tuple(sorted(held | set(heard.offs)))
    return Tick(offs, (top,)), len(heard.ons) > 1


def candidates(player: PartsPlayer) -> list[Tick]:
    """Each yours you might play at the next tick: every pitch struck, held, silence."""
    return _candidates(player.codec, player.stream.yours)


def _candidates(codec, yours: set[int]) -> list[Tick]:
    part = codec.your_part
    held = set(yours)
    mono = part.max_notes == 1
    out = []
    for p in range(part.low, part.high + 1):
        strike = Tick(ons=((p, DEFAULT_VELOCITY),))
        out.append(melody_tick(strike, held)[0] if mono else strike)
    out.append(EMPTY_TICK)  # your notes held (or silence, when none sounds)
    if held:
        out.append(Tick(offs=tuple(sorted(held))))
    return out


@dataclass(frozen=True, slots=True)
class Job:
    """Everything one table is planned from, copied: it may be built on another thread."""

    player: PartsPlayer
    tick: int  # the tick the table is for
    base: PartsStream  # the player's stream it is valid for (compared by identity, not read)
    stream: PartsStream  # a copy of it: what the build reads
    pending: tuple[int, ...]  # the player's pending releases (the rows hear them)
    h: torch.Tensor  # (L, 1, H): the player's state after the tick before
    c: torch.Tensor  # (L, 1, H)
    pos: int  # the tick's bar position (a metric model)
    sampler: Sampler  # the draws: the player's own on its thread, else a child of it
    key: np.ndarray | None  # the key lock's mask over the vocabulary
    guards_of: VoiceGuards | None = None  # the player's sampling guards (by identity)
    guards: VoiceGuards | None = None  # a copy of their memory after the tick before

    def fits(self, player: PartsPlayer, tick: int) -> bool:
        """Whether this job plans ``tick`` from what ``player`` is now (its stream, by
        identity, its releases, its key lock and draws' settings), as Table.valid_for."""
        now = player.sampler
        return (
            player is self.player
            and tick == self.tick
            and player.stream is self.base
            and player.pending_releases == self.pending
            and player.key_mask is self.key
            and getattr(player, "guards", None) is self.guards_of
            and (now.temperature, now.top_p) == (self.sampler.temperature, self.sampler.top_p)
        )

    @classmethod
    def of(cls, player: PartsPlayer, tick: int, sampler: Sampler | None = None) -> Job:
        """The job of ``tick``'s table from the player as it stands (after tick - 1)."""
        h, c = (t.detach().to("cpu", torch.float32).clone() for t in player.state)
        stream, guards = player.stream, getattr(player, "guards", None)
        return cls(player, tick, stream, stream.copy(), player.pending_releases, h, c,
                   player.position(tick), sampler or player.sampler, player.key_mask,
                   guards, guards_memory(guards))  # fmt: skip


def guards_memory(guards: VoiceGuards | None) -> VoiceGuards | None:
    """A copy of the guards with their own memory of the session (what ``heard`` changes),
    the rest shared: a build on another thread reads it while the tick thread goes on."""
    if guards is None:
        return None
    new = copy.copy(guards)
    new.histogram = guards.histogram.copy()  # heard adds to it in place
    new.last_yours = set(guards.last_yours)
    return new


class Planner:
    """Plans the tables of one player, on one :class:`BatchStep`'s buffers (one per thread).

    The batch step is a snapshot of the player's model weights, made once per player (a
    model switch makes a new Planner): the buffers a build needs are never allocated again.
    """

    def __init__(self, player: PartsPlayer) -> None:
        self.player = player
        part = player.codec.your_part
        with torch.inference_mode(False):  # plain buffers: usable in and out of inference
            self.step = BatchStep(player.model, part.high - part.low + 1 + 2)

    def plan(self, tick: int) -> Table:
        """My half of ``tick`` for every candidate yours, from the player as it stands."""
        return self.build(Job.of(self.player, tick))

    def build(self, job: Job, going: Callable[[], bool] = lambda: True) -> Table | None:
        """My half of the job's tick for every candidate yours, in one batch (docstring).

        ``going`` is asked after each batched step: False gives up (None), so a worker
        drops a build a tick made useless within one step instead of finishing it.
        """
        step, sampler, key, pos = self.step, job.sampler, job.key, job.pos
        start = job.stream.copy()
        start.release_mine(job.pending)  # as step_parts would, first thing at the tick
        yours = _candidates(job.player.codec, start.yours)
        streams, y_tokens = [], []
        for half in yours:
            s = start.copy()
            y_tokens.append(s.listen_yours(half))
            streams.append(s)
        B = len(yours)
        step.load(State(job.h, job.c), B)
        logits = step.logits.numpy()  # (B, V) view: each row's logits after its last token
        # Your halves: one or two tokens each (a strike or a hold, then MID). Every row starts
        # from the player's state, so the first token's recurrent half is computed once.
        step.step(torch.tensor([t[0] for t in y_tokens]), None, pos, shared=True)
        for k in range(1, max(map(len, y_tokens))):
            rows = [b for b in range(B) if k < len(y_tokens[b])]
            _feed(step, rows, [y_tokens[b][k] for b in rows], pos)
        if not going():
            return None
        # My halves: sampled on every row at once, each under its own stream's grammar.
        answers = [s.copy() for s in streams]
        fed: list[list[int]] = [[] for _ in range(B)]
        for a in answers:
            a.begin()
        live = list(range(B))
        # The sampling guards as step_parts has them, from the job's copy of their memory.
        guard = table_guard(SimpleNamespace(guards=job.guards), job.tick, answers)
        for _ in range(job.player.codec.my_part.max_notes + 2):
            if not live:
                break
            masks = np.stack([answers[b].mask() for b in live])  # (b, V)
            if key is not None:
                masks &= key
            if guard is not None:
                masks = guard(live, masks)
            drawn = sampler.sample_rows(logits[live], masks)
            rows, tokens, still = [], [], []
            for b, token in zip(live, drawn.tolist(), strict=True):
                verdict = answers[b].accept(token)
                if verdict is Accept.DROP:
                    continue
                rows.append(b)
                tokens.append(token)
                fed[b].append(token)
                if verdict is not Accept.FINAL:
                    still.append(b)
            if rows:
                _feed(step, rows, tokens, pos)
            if not going():
                return None
            live = still
        rows = []
        for b in range(B):
            mine = answers[b].answer() if not live or b not in live else EMPTY_TICK
            heard_back = streams[b].listen_mine(mine)
            usable = b not in live and tuple(heard_back) == tuple(fed[b])
            rows.append(Row(yours[b], tuple(y_tokens[b]), mine, streams[b], usable))
        h, c = step.h[:, :B].clone(), step.c[:, :B].clone()  # (L, B, H) x2: the table's own
        return Table(job, rows, h, c, step.logits[:B].clone())


def _feed(step: BatchStep, rows: list[int], tokens: list[int], pos: int) -> None:
    """One batched step of ``rows`` (the others keep their state and logits)."""
    prefix = rows == list(range(len(rows)))  # rows 0..b-1: stepped in place, no gather
    step.step(torch.tensor(tokens), None if prefix else torch.tensor(rows), pos)


def plan(player: PartsPlayer, tick: int) -> Table:
    """One table from a Planner made for it (a one-off; the engine keeps its Planner)."""
    return Planner(player).plan(tick)
