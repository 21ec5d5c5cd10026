"""Note events due at ticks, and the book of notes livegen has left sounding.

The engine hands the scheduler note-ons and note-offs for future ticks; at each
tick ``send_due(n)`` sends what is due, note-offs before note-ons. Every note
that goes out is recorded per ``(channel, pitch)``, so ``all_off()`` can end
them all on stop, panic, a mode or model change, port loss, Ctrl-C or an error.
Sends that fail are counted, never raised: the clock must not stop for a port.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import mido

from livegen.notes import Tick

if TYPE_CHECKING:
    from livegen.switch import Regrid

_OFF, _ON = 0, 1  # heap order within a tick: releases first, then strikes
OWN, THRU = 1, 2  # who holds a key: livegen's own notes, the musician's pass-through


class Scheduler:
    """A heap of note events keyed by tick, and a book of sounding notes and their holders.

    The book keeps, per ``(channel, pitch)``, who holds the key: livegen (``OWN``, the
    scheduled notes) and the musician's pass-through (``THRU``) can hold the same one. A
    note-on for a sounding key re-strikes it (note-off, then note-on) so nothing
    double-sounds; the note-off goes out when the last holder releases. A holder that
    strikes a key it already holds still holds it once: a count here would need two
    note-offs for one re-struck note, and one would be left sounding. ``all_off()`` ends
    whatever is left.
    """

    def __init__(self, send: Callable[[mido.Message], None]):
        self._send = send
        self._heap: list[tuple[int, int, int, int, int, int]] = []  # tick, kind, seq, ch, p, vel
        self._seq = 0  # keeps events of one tick and kind in the order given
        self._book: dict[tuple[int, int], int] = {}  # (channel, pitch) -> OWN | THRU
        self._unsure: set[tuple[int, int]] = set()  # note-off failed: may still sound
        self._lock = threading.RLock()  # all_off may come from another thread (Ctrl-C, UI)
        self.send_errors = 0
        self.last_error: BaseException | None = None

    # -- scheduling ---------------------------------------------------------------

    def note_on(self, tick: int, pitch: int, velocity: int, channel: int = 0) -> None:
        _check(pitch, channel)
        velocity = min(127, max(1, int(velocity)))  # velocity 0 would mean note-off
        self._push(tick, _ON, channel, pitch, velocity)

    def note_off(self, tick: int, pitch: int, channel: int = 0) -> None:
        _check(pitch, channel)
        self._push(tick, _OFF, channel, pitch, 0)

    def schedule(
        self, tick: int, events: Tick, channel: int = 0, velocity: int | None = None
    ) -> None:
        """A :class:`Tick`'s releases and strikes at ``tick``; ``velocity`` overrides the ons'."""
        for pitch in events.offs:
            self.note_off(tick, pitch, channel)
        for pitch, vel in events.ons:
            self.note_on(tick, pitch, vel if velocity is None else velocity, channel)

    def note(self, tick: int, pitch: int, velocity: int, duration: int, channel: int = 0) -> None:
        """A note-on at ``tick`` and its note-off ``duration`` ticks later (at least one)."""
        self.note_on(tick, pitch, velocity, channel)
        self.note_off(tick + max(1, duration), pitch, channel)

    def _push(self, tick: int, kind: int, channel: int, pitch: int, velocity: int) -> None:
        with self._lock:
            self._seq += 1
            heapq.heappush(self._heap, (tick, kind, self._seq, channel, pitch, velocity))

    # -- sending ------------------------------------------------------------------

    def send_due(self, tick: int) -> int:
        """Send every event due at or before ``tick`` (offs before ons); returns how many."""
        heap = self._heap
        sent = 0
        with self._lock:
            while heap and heap[0][0] <= tick:
                _, kind, _, channel, pitch, velocity = heapq.heappop(heap)
                if kind == _ON:
                    self._on(channel, pitch, velocity, OWN)
                else:
                    self._off(channel, pitch, OWN)
                sent += 1
        return sent

    def note_on_now(self, pitch: int, velocity: int, channel: int = 0, holder: int = THRU) -> None:
        """Send a note-on now through the book (the player's pass-through)."""
        _check(pitch, channel)
        with self._lock:
            self._on(channel, pitch, min(127, max(1, int(velocity))), holder)

    def note_off_now(self, pitch: int, channel: int = 0, holder: int = THRU) -> None:
        _check(pitch, channel)
        with self._lock:
            self._off(channel, pitch, holder)

    def _on(self, channel: int, pitch: int, velocity: int, holder: int) -> None:
        key = (channel, pitch)
        holders = self._book.get(key, 0)
        if holders or key in self._unsure:
            self._emit("note_off", channel, pitch, 0)  # re-strike: release first
            self._unsure.discard(key)
        self._book[key] = holders | holder
        # Booked even if the send fails: all_off will still try to end it.
        self._emit("note_on", channel, pitch, velocity)

    def _off(self, channel: int, pitch: int, holder: int) -> None:
        key = (channel, pitch)
        holders = self._book.get(key, 0)
        if not holders & holder:
            return  # not sounding from this holder; a stray off changes nothing
        holders &= ~holder
        if holders:
            self._book[key] = holders  # the other holder keeps it sounding
            return
        del self._book[key]
        if not self._emit("note_off", channel, pitch, 0):
            self._unsure.add(key)

    def _emit(self, kind: str, channel: int, pitch: int, velocity: int) -> bool:
        try:
            self._send(mido.Message(kind, channel=channel, note=pitch, velocity=velocity))
            return True
        except Exception as err:  # a dead port must not stop the tick loop
            self.send_errors += 1
            self.last_error = err
            return False

    # -- ending -------------------------------------------------------------------

    def all_off(self) -> int:
        """Note-off for every sounding note and drop everything pending. Never raises.

        Used by stop, panic, mode change, model switch, port loss and exit.
        Returns the number of note-offs attempted.
        """
        with self._lock:
            keys = sorted(set(self._book) | self._unsure)
            self._heap.clear()
            self._book.clear()
            self._unsure.clear()
            for channel, pitch in keys:
                self._emit("note_off", channel, pitch, 0)
        return len(keys)

    def send_now(self, msg: mido.Message) -> None:
        """Send a message that is not a note (led MIDI clock); a failure is counted, not raised."""
        try:
            self._send(msg)
        except Exception:
            self.send_errors += 1

    def pass_through(self, msg: mido.Message, channel: int) -> None:
        """Echo the musician's note-on or note-off now on ``channel`` (held as ``THRU``)."""
        try:
            if msg.type == "note_on" and msg.velocity > 0:
                self.note_on_now(msg.note, msg.velocity, channel)
            else:
                self.note_off_now(msg.note, channel)
        except ValueError:  # an out-of-range note from the input is not ours to raise on
            pass

    def clear_pending(self, kinds: Iterable[str] = ("note_on", "note_off")) -> None:
        """Forget scheduled events (sounding notes stay sounding)."""
        drop = {_ON if k == "note_on" else _OFF for k in kinds}
        with self._lock:
            self._heap = [e for e in self._heap if e[1] not in drop]
            heapq.heapify(self._heap)

    def regrid(self, regrid: Regrid) -> None:
        """The ticks are renumbered (a new grid): pending events move to the new line at or
        after their tick, never earlier."""
        with self._lock:
            self._heap = [(regrid.later(e[0]), *e[1:]) for e in self._heap]
            heapq.heapify(self._heap)

    def open_notes(self) -> list[tuple[int, int]]:
        """``(channel, pitch)`` of every note that may be sounding, sorted."""
        with self._lock:
            return sorted(set(self._book) | self._unsure)

    def planned(self, after: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """The note-ons scheduled after tick ``after``: ``(tick, pitches)`` per tick, in order.

        livegen plans one tick ahead, so this is a few events; the panel draws them ahead of
        the play line. A plain scan of the heap: no sort unless something is planned.
        """
        with self._lock:
            ons = [(e[0], e[4]) for e in self._heap if e[1] == _ON and e[0] > after]
        if not ons:
            return ()
        ons.sort()
        out: dict[int, list[int]] = {}
        for tick, pitch in ons:
            out.setdefault(tick, []).append(pitch)
        return tuple((tick, tuple(pitches)) for tick, pitches in out.items())

    def pending(self) -> int:
        """Scheduled events not yet sent."""
        return len(self._heap)

    def next_tick(self) -> int | None:
        """The tick of the earliest scheduled event."""
        heap = self._heap
        return heap[0][0] if heap else None


def _check(pitch: int, channel: int) -> None:
    if not 0 <= pitch <= 127:
        raise ValueError(f"pitch must be 0..127, got {pitch}")
    if not 0 <= channel <= 15:
        raise ValueError(f"channel must be 0..15, got {channel}")
