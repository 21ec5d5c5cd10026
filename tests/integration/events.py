"""Reading a peer's report: note events from raw ``[time, bytes]`` rows, what is left sounding."""

from __future__ import annotations


def note_events(rows) -> list[tuple[float, str, int, int]]:
    """``(time, "on"|"off", pitch, channel)`` of the note messages among ``[time, bytes]`` rows."""
    out = []
    for t, msg in rows:
        status = msg[0] & 0xF0
        if status == 0x90 and msg[2] > 0:
            out.append((t, "on", msg[1], msg[0] & 0x0F))
        elif status in (0x80, 0x90):
            out.append((t, "off", msg[1], msg[0] & 0x0F))
    return out


def hanging(events) -> set[tuple[int, int]]:
    """``(channel, pitch)`` struck and not released, in order."""
    held: set[tuple[int, int]] = set()
    for _, kind, pitch, channel in events:
        (held.add if kind == "on" else held.discard)((channel, pitch))
    return held
