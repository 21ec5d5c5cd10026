"""A session recording's journal, and the MIDI file made from it.

While a take records, its events go to an append-only journal next to the target
(``take.mid.journal``): one JSON header line, then one short JSON line per event, flushed at
least once a bar. A process that is killed leaves whole lines and at most one cut line, so
:func:`recover` can always make a MIDI file of everything up to the last flush. On a clean
stop the same :func:`finish` turns the journal into the MIDI file (temp file, then
``os.replace``: the target is whole or absent, never half written) and removes the journal.

The MIDI file (type 1, 480 ticks per quarter): track 0 "conductor" holds the meter, the
tempo map and a marker for every control that changed; track 1 "you" the musician's
messages as heard; track 2 "livegen" what livegen sent. Event times are wall seconds from
the take's start, placed through the tempo map, so a DAW at that tempo map lines them up.

Journal event lines are ``[seconds, kind, data]``: kind ``y`` (you) and ``l`` (livegen)
carry message bytes, ``T`` a tempo in BPM, ``M`` a marker's text.
"""

from __future__ import annotations

import bisect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido

from livegen.errors import LivegenError

SUFFIX = ".journal"
FORMAT = "livegen-recording"
TICKS_PER_BEAT = 480
YOU, LIVEGEN, TEMPO, MARKER = "y", "l", "T", "M"
TRACKS = ((YOU, "you"), (LIVEGEN, "livegen"))


class RecordingError(LivegenError, OSError):
    """A recording cannot be written or a journal cannot be read: one line naming the file."""


def journal_path(target: str | Path) -> Path:
    return Path(f"{target}{SUFFIX}")


def header(target: Path, bpm: float, beats_per_bar: int, started: float) -> str:
    """The journal's first line: what it records and the tempo it starts at."""
    head = {
        "format": FORMAT,
        "version": 1,
        "target": str(target),
        "bpm": bpm,
        "beats_per_bar": beats_per_bar,
        "started": started,  # wall time (time.time()), for the user's information
    }
    return json.dumps(head) + "\n"


def line(seconds: float, kind: str, data: Any) -> str:
    return json.dumps([round(seconds, 6), kind, data], separators=(",", ":")) + "\n"


@dataclass
class Journal:
    """A journal read back: its header and its events, in the order written."""

    target: Path
    bpm: float
    beats_per_bar: int
    events: list[tuple[float, str, Any]] = field(default_factory=list)
    cut: int = 0  # lines that could not be read (the last one, when the process was killed)


def read_journal(path: str | Path) -> Journal:
    """Read a journal; a cut or garbled line is skipped and counted, a bad header refused."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise RecordingError(f"{path}: cannot read the journal ({err.strerror or err})") from None
    lines = text.split("\n")
    try:
        head = json.loads(lines[0])
        if head.get("format") != FORMAT:
            raise ValueError
        journal = Journal(Path(head["target"]), float(head["bpm"]), int(head["beats_per_bar"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise RecordingError(f"{path}: not a livegen recording journal") from None
    for raw in lines[1:]:
        if not raw:
            continue
        try:
            seconds, kind, data = json.loads(raw)
            journal.events.append((float(seconds), str(kind), data))
        except (ValueError, TypeError):
            journal.cut += 1
    return journal


class TempoMap:
    """Wall seconds from the take's start -> MIDI ticks, through the tempo changes.

    ``changes`` are ``(seconds, bpm)`` in time order; the tempo before the first is ``bpm``.
    """

    def __init__(self, bpm: float, changes: list[tuple[float, float]] = ()) -> None:
        self.times = [0.0]
        self.bpms = [bpm]
        self.ticks = [0.0]  # ticks at each change (fractional: rounded only when placed)
        for seconds, new in changes:
            seconds = max(seconds, self.times[-1])
            self.ticks.append(self._at(seconds))
            self.times.append(seconds)
            self.bpms.append(new)

    def _at(self, seconds: float) -> float:
        i = bisect.bisect_right(self.times, seconds) - 1
        i = max(i, 0)
        return self.ticks[i] + (seconds - self.times[i]) * self.bpms[i] / 60.0 * TICKS_PER_BEAT

    def tick(self, seconds: float) -> int:
        """The MIDI tick of ``seconds`` (before the start: the start)."""
        return round(self._at(max(seconds, 0.0)))

    def seconds(self, tick: int) -> float:
        """The inverse: wall seconds at MIDI tick ``tick`` (for checks and tests)."""
        i = max(bisect.bisect_right(self.ticks, tick) - 1, 0)
        return self.times[i] + (tick - self.ticks[i]) / TICKS_PER_BEAT * 60.0 / self.bpms[i]


def to_midi(journal: Journal, end: float | None = None) -> mido.MidiFile:
    """The MIDI file of a journal; notes still sounding at ``end`` (default: the last event)
    get their note-off there, so a take stopped mid-note leaves nothing hanging."""
    changes = [(t, float(d)) for t, k, d in journal.events if k == TEMPO]
    tempo = TempoMap(journal.bpm, changes)
    last = max((t for t, _, _ in journal.events), default=0.0)
    end = max(last, end or 0.0)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)

    conductor: list[tuple[int, int, mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("time_signature", numerator=journal.beats_per_bar, denominator=4)),
        (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(journal.bpm))),
    ]
    for i, (t, kind, data) in enumerate(journal.events):
        if kind == TEMPO:
            conductor.append((tempo.tick(t), i, mido.MetaMessage("set_tempo", tempo=_us(data))))
        elif kind == MARKER:
            conductor.append((tempo.tick(t), i, mido.MetaMessage("marker", text=str(data))))
    midi.tracks.append(_track("conductor", conductor, tempo.tick(end)))

    for code, name in TRACKS:
        rows: list[tuple[int, int, mido.Message]] = []
        sounding: set[tuple[int, int]] = set()
        for i, (t, kind, data) in enumerate(journal.events):
            if kind != code:
                continue
            try:
                msg = mido.Message.from_bytes(data)
            except (ValueError, TypeError):
                continue  # a garbled message is left out; the rest still plays
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.add((msg.channel, msg.note))
            elif msg.type in ("note_on", "note_off"):
                sounding.discard((msg.channel, msg.note))
            rows.append((tempo.tick(t), i, msg))
        stop = tempo.tick(end)
        for n, (channel, pitch) in enumerate(sorted(sounding)):
            rows.append(
                (
                    stop,
                    len(journal.events) + n,
                    mido.Message("note_off", channel=channel, note=pitch),
                )
            )
        midi.tracks.append(_track(name, rows, stop))
    return midi


def _us(bpm: Any) -> int:
    return mido.bpm2tempo(min(max(float(bpm), 1.0), 1000.0))


def _track(name: str, rows: list[tuple[int, int, Any]], end: int) -> mido.MidiTrack:
    """Absolute ``(tick, order, message)`` rows as a track of delta times."""
    rows.sort(key=lambda r: (r[0], r[1]))  # by time; at one time, in the order they came
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for tick, _, msg in rows:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(end - now, 0)))
    return track


def save_atomically(midi: mido.MidiFile, target: Path) -> None:
    """Write ``target`` whole or not at all: a temp file beside it, synced, then renamed."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as f:
            midi.save(file=f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise RecordingError(
            f"{target}: cannot write the recording ({err.strerror or err})"
        ) from None


def free_path(target: Path) -> Path:
    """``target``, or ``take-2.mid``, ``take-3.mid``... the first name that holds no file
    and no journal: a recording never overwrites another."""
    candidate, n = target, 1
    while candidate.exists() or journal_path(candidate).exists():
        n += 1
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return candidate


def finish(
    journal_file: Path, target: Path | None = None, end: float | None = None
) -> tuple[Path, int]:
    """Make the MIDI file of a journal atomically, then remove the journal.

    ``target`` defaults to the journal's own (a free name beside it if a file is there
    already, as after a crash: nothing is overwritten). Returns the file and its events.
    """
    journal = read_journal(journal_file)
    if target is None:  # beside the journal, under the name it was for, unless that is taken
        target = journal_file.with_name(journal.target.name)
        if target.exists():
            target = free_path(target)
    save_atomically(to_midi(journal, end), target)
    journal_file.unlink(missing_ok=True)
    return target, sum(1 for _, k, _ in journal.events if k in (YOU, LIVEGEN))


def recover(path: str | Path) -> tuple[Path, int, int]:
    """Recover a take a crash left: ``path`` is the journal or the MIDI file it was for.

    Returns the MIDI file written, its events, and the cut lines skipped.
    """
    path = Path(path)
    journal_file = path if path.name.endswith(SUFFIX) else journal_path(path)
    if not journal_file.exists():
        raise RecordingError(f"{path}: no journal to recover ({journal_file.name} is not there)")
    cut = read_journal(journal_file).cut
    target, events = finish(journal_file)
    return target, events, cut
