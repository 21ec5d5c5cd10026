"""Session recording: what the musician played and what livegen sent, as it happened.

The engine only hands events to :class:`Recording`; it never waits for it. Every event is
a tuple put on a queue (a ``SimpleQueue.put``, a few microseconds, never blocking) and a
writer thread of its own does all the file work: choosing a free name, appending the
journal (:mod:`livegen.journal`), flushing it at least every half bar, and at the stop
turning it into the MIDI file atomically. What is recorded:

- "you": the musician's channel messages as heard, at their input stamps;
- "livegen": every channel message that left the output port, at the time it left: the
  scheduler's sends go through :meth:`Recording.send`, so pass-through and the note-offs
  of panic, stop and a model switch are in it exactly as sent;
- the tempo map: the clock's tempo, checked once a tick;
- the controls that changed, as markers, at the tick that applied them.

A take starts at the first tick with ``--record FILE.mid``, and whenever ``Do(Action.RECORD)``
toggles it (the panel's ``R``, a mapped CC); it ends at the next toggle or when the engine
shuts down (close, Ctrl-C, SIGTERM, client EOF, an engine error). A journal that a killed
process left for the same path is recovered when the next take there begins, and said so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import mido

from livegen import journal
from livegen.controls import Action
from livegen.journal import LIVEGEN, MARKER, TEMPO, YOU, RecordingError

# What goes in the file: channel messages (clock and transport are the tempo map's job).
CHANNEL_TYPES = frozenset(
    {"note_on", "note_off", "control_change", "program_change", "pitchwheel", "aftertouch"}
    | {"polytouch"}
)
FLUSH_MAX = 0.5  # seconds: the journal is flushed at least this often, and every half bar
JOIN = 10.0  # seconds to let the writer finish the file at shutdown


@dataclass(frozen=True)
class RecordState:
    """What the snapshot shows of the recording: the file, its events, whether it records."""

    path: str
    events: int
    active: bool  # False: the take ended (the file is finished, or being finished)


class _Take:
    """One take: where it goes, when it began; the writer sets ``path`` to the free name."""

    def __init__(self, base: Path, origin: float, bpm: float) -> None:
        self.base = base
        self.path = base  # the name the file really gets, once the writer chose it
        self.origin = origin  # perf_counter at the take's time 0
        self.bpm = bpm  # the tempo now (the tick thread's)
        self.start_bpm = bpm  # the tempo at time 0 (the writer's: the journal's header)
        self.events = 0  # notes and other channel messages put (both parts)
        self.failed = False


class Recording:
    """The engine's recorder: ``send`` is the output port's send, recording what left.

    ``target`` is ``--record``'s file (None: takes started live get a name of their own).
    ``now`` must be the clock of the input stamps (``perf_counter``). Raises
    :class:`RecordingError` when the target's folder cannot hold a recording.
    """

    def __init__(
        self,
        target: str | Path | None,
        send: Callable[[mido.Message], None],
        *,
        bpm: float,
        beats_per_bar: int,
        now: Callable[[], float] = time.perf_counter,
        notice: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.target = Path(target).expanduser() if target else None
        self._send = send
        self._now = now
        self.notice = notice
        self.beats_per_bar = beats_per_bar
        self.bpm = bpm
        self.state: RecordState | None = None
        self._take: _Take | None = None
        self._pending = self.target is not None  # --record: the first tick starts the take
        self._queue: SimpleQueue = SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._shown = -1  # the event count the state shows
        if self.target is not None:
            writable(self.target)  # at the session's start: a bad path is an error, not a notice

    # ---- the engine's side (tick thread): enqueue only --------------------------------------
    def send(self, msg: mido.Message) -> None:
        """Send on the output port; what left goes into the take's livegen part."""
        self._send(msg)  # a failure raises to the scheduler, which counts it: nothing left
        take = self._take
        if take is not None and msg.type in CHANNEL_TYPES:
            take.events += 1
            self._queue.put((LIVEGEN, self._now(), msg.bytes()))

    def hear(self, inbox: list[tuple[float, mido.Message]], bpm: float) -> None:
        """Once a tick: the musician's messages of this tick, and the clock's tempo."""
        self.bpm = bpm
        if self._pending:
            self._pending = False
            self.begin(bpm)
        take = self._take
        if take is None:
            return
        bpm = round(bpm, 1)  # a followed MIDI clock's estimate wavers below this
        if bpm != take.bpm:
            take.bpm = bpm
            self._queue.put((TEMPO, self._now(), bpm))
        put = self._queue.put
        for stamp, msg in inbox:
            if msg.type in CHANNEL_TYPES:
                take.events += 1
                put((YOU, stamp, msg.bytes()))
        if take.events != self._shown:
            self._shown = take.events
            self.state = RecordState(str(take.path), take.events, True)

    def applied(self, old: Any, new: Any, effect: Any) -> None:
        """A command was applied at this tick: a record toggle, or a marker for what changed.

        ``old`` and ``new`` are :class:`livegen.controls.Settings`, ``effect`` its Effect.
        """
        if effect.action is Action.RECORD:
            self.toggle()
            return
        take = self._take
        if take is None:
            return
        at = self._now()
        for f in dataclasses.fields(new):
            value = getattr(new, f.name)
            if value != getattr(old, f.name):
                shown = getattr(value, "value", value)  # a Mode by its name
                self._queue.put((MARKER, at, f"{f.name} {shown}"))
        if effect.action is not None:
            self._queue.put((MARKER, at, effect.action.value))
        if effect.switch is not None:
            target = effect.switch.target
            name = target if isinstance(target, (str, Path)) else getattr(target, "path", target)
            self._queue.put((MARKER, at, f"model {Path(str(name)).stem}"))

    def toggle(self) -> None:
        if self._take is None:
            self.begin(self.bpm)
        else:
            self.stop()

    def begin(self, bpm: float) -> None:
        """Start a take now (the writer opens its journal)."""
        if self._take is not None or self._closed:
            return
        base = self.target or Path(f"livegen-{time.strftime('%Y%m%d-%H%M%S')}.mid")
        take = _Take(base, self._now(), round(bpm, 1))
        self._take = take
        self._shown = 0
        self.state = RecordState(str(base), 0, True)
        if self._writer is None:
            self._writer = threading.Thread(target=self._write, name="livegen-recorder")
            self._writer.daemon = True  # close() joins it; a killed process has the journal
            self._writer.start()
        self._queue.put(("begin", take.origin, take))
        self.notice(f"recording to {base}")

    def stop(self) -> None:
        """End the take now; the writer finishes the file (this does not wait for it)."""
        take, self._take = self._take, None
        if take is None:
            return
        self._queue.put(("end", self._now(), take))
        self.state = RecordState(str(take.path), take.events, False)

    def close(self, timeout: float = JOIN) -> None:
        """End the take and wait for its file to be finished (shutdown; more than once is fine)."""
        self._pending = False
        self.stop()
        if self._closed:
            return
        self._closed = True
        writer = self._writer
        if writer is not None:
            self._queue.put(("quit", 0.0, None))
            if writer is not threading.current_thread():
                writer.join(timeout)

    # ---- the writer thread: all file work ---------------------------------------------------
    def _write(self) -> None:
        take: _Take | None = None
        out = None
        flushed = time.monotonic()
        period = FLUSH_MAX
        get = self._queue.get
        while True:
            try:
                kind, stamp, data = get(timeout=period)
            except Empty:
                if out is not None:
                    out = self._flush(take, out)
                    flushed = time.monotonic()
                continue
            if kind == "begin":
                take, out = data, self._open(data)
                period = min(FLUSH_MAX, self.beats_per_bar * 30.0 / max(data.start_bpm, 1.0))
                flushed = time.monotonic()
            elif kind == "end":
                if out is not None:
                    out.close()
                    out = None
                    self._finish(data, stamp - data.origin)
                take = None
            elif kind == "quit":
                if out is not None:  # close() ends the take first; this is a last resort
                    out.close()
                return
            elif out is not None and take is not None:
                try:
                    out.write(journal.line(stamp - take.origin, kind, data))
                except (OSError, ValueError) as err:
                    out = self._fail(take, out, err)
                if kind == TEMPO:
                    period = min(FLUSH_MAX, self.beats_per_bar * 30.0 / max(float(data), 1.0))
                if out is not None and time.monotonic() - flushed >= period:
                    out = self._flush(take, out)
                    flushed = time.monotonic()

    def _open(self, take: _Take) -> Any:
        self._recover_leftover(take.base)
        try:
            take.path = journal.free_path(take.base)
            if take.path != take.base:
                self.notice(f"{take.base} is there already: recording to {take.path}")
            # Held open for the whole take (closed at its end), so no context manager.
            out = open(journal.journal_path(take.path), "x", encoding="utf-8")  # noqa: SIM115
            out.write(journal.header(take.path, take.start_bpm, self.beats_per_bar, time.time()))
            out.flush()
            return out
        except OSError as err:
            return self._fail(take, None, err)

    def _flush(self, take: _Take | None, out):
        try:
            out.flush()
            return out
        except (OSError, ValueError) as err:
            return self._fail(take, out, err)

    def _fail(self, take: _Take | None, out: Any, err: BaseException) -> None:
        """The disk refused: the take stops being written (the session plays on)."""
        if take is not None:
            take.failed = True
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()
        where = take.path if take is not None else "the recording"
        self.notice(f"recording stopped: cannot write {where} ({_why(err)})")
        return None

    def _finish(self, take: _Take, end: float) -> None:
        try:
            path, events = journal.finish(journal.journal_path(take.path), take.path, end)
        except RecordingError as err:
            self.notice(str(err))
            return
        self.notice(f"recorded {events} events to {path}")

    def _recover_leftover(self, target: Path) -> None:
        """A journal for this target that a killed session left: make its file first."""
        left = journal.journal_path(target)
        if not left.exists():
            return
        try:
            path, events, _ = journal.recover(left)
        except RecordingError as err:
            self.notice(f"could not recover the last recording: {err}")
            return
        self.notice(f"recovered an unfinished recording ({events} events) into {path}")


def writable(target: Path) -> None:
    """Refuse, in one line, a target that cannot become a recording."""
    if target.suffix.lower() not in (".mid", ".midi"):
        raise RecordingError(f"{target}: a recording is a MIDI file; name it FILE.mid")
    folder = target.parent
    if not folder.is_dir():
        raise RecordingError(f"{target}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise RecordingError(f"{target}: cannot write in {folder}; choose another folder")
    if target.is_dir():
        raise RecordingError(f"{target}: is a folder; name a MIDI file to record into")


def _why(err: BaseException) -> str:
    return getattr(err, "strerror", None) or " ".join(str(err).split()) or type(err).__name__
