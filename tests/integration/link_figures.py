"""Figures from a Link peer's report (link_peer.py): livegen's MIDI clock on the peer's timeline.

livegen's pulses lie on Link's own grid: tick ``n`` is Link beat ``base + n / tpq`` (``base``
a whole bar) and pulse ``k`` of a tick ``k / 24`` of a beat later, whatever the tempo. So
each pulse is numbered by the peer's Link beat at its arrival, ``round(beat * 24)``, never by
counting from MIDI Start: a pulse JACK lost leaves a gap in the numbers and costs only
itself, two arrivals on one number are bunched, and neither misnumbers the rest (counting
did, which made a tempo figure at 600 BPM, 4.2 ms a pulse, unreadable).

A pulse's offset is its arrival minus its grid line, so JACK's delivery (0 to one cycle,
``delivery``) is in it; the numbering is centred on half of that, so it holds while a pulse
is within half a pulse of ``delivery / 2`` (+-6.9 ms at 180 BPM). A pulse is on the grid
when ``-tolerance <= offset <= delivery + tolerance``. A tempo livegen did not follow drifts
off the grid (80 ms a beat for 120 -> 150 BPM) and through the pulse numbers, so "followed"
asks for a whole tick of pulses on the grid with consecutive numbers: a pulse train at
another tempo skips or repeats numbers, so it cannot pass as that even where its drift
brings a pulse back near a line. A change is ``measurable`` when the window is narrower
than the new tempo's pulse (else every arrival is near some line: 600 BPM's 4.2 ms against
the benchmark's 5.3 ms window) and a train still at the old tempo drifts out of the window
within ``RUN`` pulses. An offset past half a pulse is read against the nearest line, so
the worst offsets before "followed" may be understated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PPQN = 24
RUN = 6  # pulses in a row on the grid that show livegen on it: a tick's worth at 4 per beat


@dataclass(frozen=True)
class Pulse:
    stamp: float  # perf_counter seconds at arrival (the peer's estimate)
    beat: float  # the peer's Link beat at arrival
    tempo: float  # the peer's tempo then
    index: int  # the pulse of livegen's grid it is: round(beat * PPQN), delivery allowed for
    offset: float  # seconds, arrival minus that pulse's grid line (late: positive)


def offset(beat: float, tempo: float, unit: float) -> float:
    """Seconds from ``beat`` to the nearest multiple of ``unit`` beats (late: positive)."""
    return (beat - round(beat / unit) * unit) * 60.0 / tempo


def numbered(rows: list, delivery: float = 0.0) -> list[Pulse]:
    """The clock pulses among ``(stamp, kind, beat, tempo)`` rows, numbered by Link beat."""
    out = []
    for stamp, kind, beat, tempo in rows:
        if kind != "clock":
            continue
        index = round((beat - delivery / 2 * tempo / 60.0) * PPQN)
        out.append(Pulse(stamp, beat, tempo, index, (beat - index / PPQN) * 60.0 / tempo))
    return out


def within(pulses: list[Pulse], start: float, end: float) -> list[Pulse]:
    return [p for p in pulses if start < p.stamp < end]


def gaps(pulses: list[Pulse]) -> dict:
    """Pulses missing between consecutive numbers (``lost``) and arrivals on a number already
    taken or behind it (``bunched``), over a stretch where livegen sent pulses throughout."""
    steps = np.diff([p.index for p in pulses]) if len(pulses) > 1 else np.zeros(0, int)
    return {
        "pulses": len(pulses),
        "lost": int(np.clip(steps - 1, 0, None).sum()),
        "bunched": int((steps <= 0).sum()),
    }


def on_grid(span: list[Pulse], ok: list[bool], k: int) -> bool:
    """Whether ``RUN`` pulses from ``span[k]`` are on the grid, one number apart."""
    numbers = [p.index for p in span[k : k + RUN]]
    return all(ok[k : k + RUN]) and numbers == list(range(numbers[0], numbers[0] + RUN))


def measurable(old: float, new: float, window: float) -> bool:
    """Whether being on ``new``'s grid can be told from not (see the module docstring)."""
    pulse, stale = 60.0 / new / PPQN, 60.0 / old / PPQN
    return window < pulse and (RUN - 1) * abs(stale - pulse) > window


def stale_off_after(old: float, new: float, tolerance: float) -> float:
    """Beats after a change until pulses still at the ``old`` tempo are ``tolerance`` off the
    ``new`` grid: a livegen that learnt the change later than that reads as off the grid,
    one that learnt it sooner as on it from its first pulse."""
    drift = 60.0 * abs(new - old) / new**2  # seconds off the new grid per beat of it
    return tolerance / drift


def follows(
    pulses: list[Pulse],
    tempo_set: list,
    end: float,
    *,
    tolerance: float,
    delivery: float = 0.0,
    tpq: int = 4,
) -> list[dict]:
    """For each of the peer's tempo changes after the first ``[time, tempo, beat]`` of
    ``tempo_set``: beats from the change (on the peer's timeline) until livegen's pulses are
    on the new grid, ``RUN`` in a row, and how they fared then (until the next change, or
    ``end``)."""
    out = []
    for i in range(1, len(tempo_set)):
        t_set, tempo, beat_set = tempo_set[i][:3]
        t_next = tempo_set[i + 1][0] if i + 1 < len(tempo_set) else end
        span = within(pulses, t_set, t_next)
        ok = [-tolerance <= p.offset <= delivery + tolerance for p in span]
        first = next((k for k in range(len(ok) - RUN + 1) if on_grid(span, ok, k)), None)
        after = np.abs([p.offset for p in span[first:]]) if first is not None else np.zeros(0)
        first_beat = [abs(p.offset) for p in span if p.beat < beat_set + 1.0]
        out.append(
            {
                "from": tempo_set[i - 1][1],
                "tempo": tempo,
                "at_beat": beat_set,
                "beats_to_follow": None if first is None else span[first].beat - beat_set,
                "off_grid_before": len(ok) if first is None else ok[:first].count(False),
                "first_beat_max_ms": 1000 * max(first_beat) if first_beat else None,
                "on_grid": sum(ok[first:]) / len(ok[first:]) if first is not None else 0.0,
                "after_p99_ms": 1000 * float(np.percentile(after, 99)) if len(after) else None,
                "ticks": sum(1 for p in span if p.index % (PPQN // tpq) == 0),
                "measurable": measurable(tempo_set[i - 1][1], tempo, delivery + 2 * tolerance),
                "resolution_beats": stale_off_after(tempo_set[i - 1][1], tempo, tolerance),
                **gaps(span),
            }
        )
    return out


def bar_lines(pulses: list[Pulse], q: int) -> tuple[list[float], int]:
    """livegen's downbeats: the offset of the pulse numbered on each of the peer's bar lines
    the pulses span, and how many of those bars had none (lost in JACK)."""
    bar = PPQN * q
    down = {p.index // bar: p.offset for p in pulses if p.index % bar == 0}
    if not pulses:
        return [], 0
    first = -(-pulses[0].index // bar)
    last = pulses[-1].index // bar
    return [down[b] for b in sorted(down)], (last - first + 1) - len(down)


def analyse(report: dict, tpq: int = 4, tolerance: float = 0.003, delivery: float = 0.0) -> dict:
    """Figures: beats to follow each tempo change, downbeat and tick offsets, pulses lost,
    MIDI Start and Stop. ``delivery`` is JACK's cycle, ``tolerance`` what scheduling may add
    on either side of it."""
    script, rows = report["script"], report["rows"]
    q = report["quantum"]
    pulses = numbered(rows, delivery)
    sets = script["tempo_set"]
    t_play, beat_play, tempo = script["play"]
    t_stop = script["stop"][0]
    bars_from = script["bars_from"]

    start = None
    starts = [r for r in rows if r[1] == "start" and r[0] > t_play]
    if starts:
        s = starts[0]
        start = {
            "after_s": s[0] - t_play,
            "bar_offset_s": offset(s[2], s[3], q),
            "beats_after_play": s[2] - beat_play,
        }
    stops = [r for r in rows if r[1] == "stop" and r[0] > t_stop]
    bar_span = within(pulses, bars_from, t_stop)
    bar_offsets, missing = bar_lines(bar_span, q)
    return {
        "follows": follows(pulses, sets, t_play, tolerance=tolerance, delivery=delivery, tpq=tpq),
        "start": start,
        "stop_after_s": stops[0][0] - t_stop if stops else None,
        "downbeat_offsets_s": bar_offsets,
        "downbeats_missing": missing,
        "grid_offsets_s": [p.offset for p in bar_span if p.index % (PPQN // tpq) == 0],
        # livegen pulses from its first tick until the session starts, and again from the bar
        # after: the stretches where a gap in the numbers is a pulse lost.
        "tempo_gaps": gaps(within(pulses, sets[0][0], t_play)),
        "bar_gaps": gaps(bar_span),
        "pulses": len(pulses),
    }
