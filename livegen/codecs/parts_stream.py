"""The ``parts`` codec's stream: what each part sounds, listening in the live order, and the
answer grammar of livegen's part (see ``parts.py`` for the token layout).

A tick is heard in two halves: ``listen_yours`` (your part, teacher forced, then MID) and
``listen_mine`` (my part, then STEP). Between them, ``begin`` on a copy samples my part of
that same tick. ``begin`` at a tick boundary answers a whole tick instead (both parts), for
the generic Player that treats the codec as one stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from livegen.codecs.base import Accept, CodecStream, Token
from livegen.notes import DEFAULT_VELOCITY, EMPTY_TICK, Tick

if TYPE_CHECKING:
    from livegen.codecs.parts import PartsCodec

YOURS, MINE, DONE = 0, 1, 2  # the part an answer is sampling
MASK_MEMO = 4096  # masks kept per codec (a few hundred distinct in a chorale)


@dataclass(frozen=True, slots=True)
class PartsTick:
    """One tick of a piece with parts: your part's events and mine, at the same tick."""

    yours: Tick = EMPTY_TICK
    mine: Tick = EMPTY_TICK


@dataclass(frozen=True, slots=True)
class Part:
    """One part's pitch range, its cap on sounding notes, and its tokens."""

    low: int
    high: int
    max_notes: int
    on_token: dict[int, int]
    hold_token: dict[int, int]
    on_tokens: np.ndarray  # ON tokens by pitch - low, for slicing masks

    def fold(self, pitch: int) -> int:
        """Move a pitch by octaves into the part's range (identity inside it)."""
        while pitch < self.low:
            pitch += 12
        while pitch > self.high:
            pitch -= 12
        return pitch


def _hear(part: Part, sounding: set[int], tick: Tick) -> tuple[list[int], list[int]]:
    """One part's tick as (struck, held) pitches, ascending, folded into the part's range."""
    now = sounding.difference(part.fold(p) for p in tick.offs)
    new = sorted({part.fold(p) for p, _ in tick.ons})
    return new, sorted(now.difference(new))


class PartsStream(CodecStream):
    """What each part sounds, where the tick stands (before or after MID), the answer built."""

    def __init__(self, codec: PartsCodec) -> None:
        self.codec = codec
        self.yours: set[int] = set()  # your part's sounding pitches (folded into its range)
        self.mine: set[int] = set()  # mine
        self.at_mid = False  # your half of the current tick heard, my half not yet
        # Ticks at which your part heard more notes than it takes (a chord played into a
        # melody part): the highest were kept. The engine turns the first into one notice.
        self.chords = 0
        self._whole = False  # this answer is a whole tick (from a boundary), not my half
        self._part = DONE
        self._ons: list[int] = []  # the part being sampled: struck, ascending
        self._holds: list[int] = []  # held, ascending
        self._y_ons: list[int] = []  # a whole answer's finished half of yours
        self._y_holds: list[int] = []
        self._mask: np.ndarray | None = None  # cached until the next accept

    def copy(self) -> PartsStream:
        new = PartsStream(self.codec)
        new.yours, new.mine, new.at_mid, new.chords = (
            set(self.yours),
            set(self.mine),
            self.at_mid,
            self.chords,
        )
        new._whole, new._part = self._whole, self._part
        new._ons, new._holds = list(self._ons), list(self._holds)
        new._y_ons, new._y_holds = list(self._y_ons), list(self._y_holds)
        return new

    # ---- listening ---------------------------------------------------------------------
    def listen(self, tick: Tick | PartsTick) -> list[Token]:
        """A whole tick: a PartsTick's halves, or a plain Tick split top voice / rest."""
        yours, mine = (tick.yours, tick.mine) if isinstance(tick, PartsTick) else self.split(tick)
        return [*self.listen_yours(yours), *self.listen_mine(mine)]

    def listen_yours(self, tick: Tick) -> list[Token]:
        """Your half of a tick (teacher forced): its tokens, ending with MID."""
        if self.at_mid:
            raise ValueError("parts: listen_yours twice in one tick (listen_mine comes between)")
        part = self.codec.your_part
        new, held = _hear(part, self.yours, tick)
        if len(new) + len(held) > part.max_notes:
            # More than your part takes (a chord into a melody part): keep the highest.
            keep = set(sorted(new + held)[-part.max_notes :])
            new = [p for p in new if p in keep]
            held = [p for p in held if p in keep]
            self.chords += 1
        self.yours = set(new).union(held)
        self.at_mid = True
        on, hold = part.on_token, part.hold_token
        return [*(on[p] for p in new), *(hold[p] for p in held), self.codec.mid]

    def listen_mine(self, tick: Tick) -> list[Token]:
        """My half of a tick (what livegen played, or teacher forced): tokens ending with STEP."""
        if not self.at_mid:
            raise ValueError("parts: listen_mine before listen_yours of the same tick")
        part = self.codec.my_part
        new, held = _hear(part, self.mine, tick)
        self.mine = set(new).union(held)
        self.at_mid = False
        on, hold = part.on_token, part.hold_token
        return [*(on[p] for p in new), *(hold[p] for p in held), self.codec.step]

    def split(self, tick: Tick) -> tuple[Tick, Tick]:
        """A plain tick as (yours, mine): the top voice is yours, the rest mine.

        A release ends the pitch in the part that sounds it exactly, else (a note folded
        into range) in each part. A pitch struck again goes to the part that sounds it.
        Of the other notes struck, your part takes the highest when nothing of it sounds
        after the releases; every other note is mine.
        """
        yours, mine = self.yours, self.mine
        y_offs, m_offs = [], []
        for p in tick.offs:
            exact = p in yours or p in mine
            if p in yours or not exact:
                y_offs.append(p)
            if p in mine or not exact:
                m_offs.append(p)
        y_ons = [(p, v) for p, v in tick.ons if p in yours]
        m_ons = [(p, v) for p, v in tick.ons if p in mine and p not in yours]
        others = sorted(on for on in tick.ons if on[0] not in yours and on[0] not in mine)
        fold = self.codec.your_part.fold
        if others and not y_ons and not yours.difference(fold(p) for p in y_offs):
            y_ons.append(others.pop())
        return Tick(tuple(y_offs), tuple(sorted(y_ons))), Tick(
            tuple(m_offs), tuple(sorted(m_ons + others))
        )

    def release_mine(self, pitches) -> None:
        """My notes ended outside the stream (stop, panic): they no longer sound.

        Token for token this is the same as hearing their release in my next half.
        """
        self.mine.difference_update(pitches)

    def hears(self) -> set[int]:
        return self.yours | self.mine

    def hears_parts(self) -> tuple[set[int], set[int]]:
        """What each part sounds now: (yours, mine)."""
        return set(self.yours), set(self.mine)

    # ---- answering ---------------------------------------------------------------------
    def begin(self) -> None:
        self._whole = not self.at_mid
        self._part = YOURS if self._whole else MINE
        self._ons, self._holds, self._y_ons, self._y_holds = [], [], [], []
        self._mask = None

    def mask(self) -> np.ndarray | None:
        if self._mask is None:
            # Everything _build_mask reads, so a mask from the memo is the one it would build.
            key = (self._part, self._whole, frozenset(self.mine), tuple(self._ons),
                   tuple(self._holds))  # fmt: skip
            if self._whole:
                key += (frozenset(self.yours), tuple(self._y_ons), tuple(self._y_holds))
            masks = self.codec.masks
            mask = masks.get(key)
            if mask is None:
                mask = self._build_mask()
                mask.flags.writeable = False
                if len(masks) >= MASK_MEMO:
                    masks.clear()
                masks[key] = mask
            self._mask = mask
        return self._mask

    def _build_mask(self) -> np.ndarray:
        codec = self.codec
        mask = np.zeros(codec.vocab_size, dtype=bool)
        if self._part == DONE:
            return mask
        if self._part == YOURS:
            # A whole answer's top voice: one note at most, struck or held, then MID.
            mask[codec.mid] = True
            if not self._ons and not self._holds:
                # Not a pitch only my part sounds: heard merged, that strike would be mine.
                part = codec.your_part
                mask[part.on_tokens] = True
                mask[[part.on_token[p] for p in self.mine - self.yours if p in part.on_token]] = (
                    False
                )
                mask[[part.hold_token[p] for p in self.yours - self.mine]] = True
            return mask
        part = codec.my_part
        mask[codec.step] = True
        top, forbidden = part.high, set()
        if self._whole:
            # So that the merged answer splits back into the same halves: no unison with your
            # part, nothing struck above your struck note, nothing struck if yours falls silent.
            forbidden = self.yours.union(self._y_ons, self._y_holds)
            if self._y_ons:
                top = min(top, self._y_ons[0] - 1)
            elif not self._y_holds:
                top = part.low - 1
        n = len(self._ons) + len(self._holds)
        if not self._holds and n < part.max_notes and len(self._ons) < codec.MAX_ONS:
            first = self._ons[-1] + 1 if self._ons else part.low
            if first <= top:
                mask[part.on_tokens[first - part.low : top - part.low + 1]] = True
            mask[[part.on_token[p] for p in forbidden if first <= p <= top]] = False
        if n < part.max_notes:
            last_hold = self._holds[-1] if self._holds else -1
            struck = set(self._ons)
            for p in self.mine:
                if p > last_hold and p not in struck and p not in forbidden:
                    mask[part.hold_token[p]] = True
        return mask

    def accept(self, token: Token) -> Accept:
        codec = self.codec
        tok = self.allowed(token)
        self._mask = None
        kind, pitch = codec.table[tok]
        if tok == codec.mid:
            self._y_ons, self._y_holds, self._ons, self._holds = self._ons, self._holds, [], []
            self._part = MINE
        elif tok == codec.step:
            self._part = DONE
            return Accept.FINAL
        elif kind.endswith("_ON"):
            self._ons.append(pitch)
        else:
            self._holds.append(pitch)
        return Accept.CONTINUE

    def sampled(self) -> tuple[list[int], list[int]]:
        """The part being answered so far: (struck, held) pitches, ascending (the guards'
        view, livegen/voice_guards.py)."""
        return self._ons, self._holds

    def answer_parts(self) -> PartsTick:
        """The answered tick as its two halves (yours is empty when only mine was sampled)."""
        if self._part != DONE:
            raise ValueError("parts: answer() before STEP was accepted")
        mine = Tick(tuple(sorted(self.mine.difference(self._holds))), self._struck(self._ons))
        if not self._whole:
            return PartsTick(EMPTY_TICK, mine)
        yours = Tick(tuple(sorted(self.yours.difference(self._y_holds))), self._struck(self._y_ons))
        return PartsTick(yours, mine)

    def answer(self) -> Tick:
        """My half as events; for a whole answer both halves merged into one MIDI stream."""
        halves = self.answer_parts()
        if not self._whole:
            return halves.mine
        # A pitch ends only where neither part goes on holding it.
        held = set(self._y_holds).union(self._holds)
        offs = tuple(sorted((self.yours | self.mine) - held))
        return Tick(offs, self._struck(sorted(set(self._y_ons).union(self._ons))))

    @staticmethod
    def _struck(pitches) -> tuple[tuple[int, int], ...]:
        return tuple((p, DEFAULT_VELOCITY) for p in pitches)
