"""Reading a peer's report (note events from raw ``[time, bytes]`` rows, what is left
sounding) and the JACK server's timing (its period, the xruns it logs)."""

from __future__ import annotations

import re
import shutil
import subprocess

from livegen.jack import JackServer


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


def _ask_server(server: JackServer, tool: str) -> int | None:
    """The first number ``jack_bufsize`` / ``jack_samplerate`` prints for ``server``."""
    path = shutil.which(tool)
    if path is None:
        return None
    done = subprocess.run([path], env=server.env, capture_output=True, text=True, timeout=10)
    found = re.search(r"\d+", done.stdout)
    return int(found.group()) if done.returncode == 0 and found else None


def _asked_for(server: JackServer, flag: str) -> int:
    """A driver option from jackd's command line (``-p`` frames, ``-r`` rate)."""
    args = list(server.proc.args)
    return int(args[len(args) - 1 - args[::-1].index(flag) + 1])


def measure_jack_period(server: JackServer) -> float:
    """Seconds per JACK cycle as the running server reports it (buffer size / sample rate);
    the options jackd was started with where the tools are missing."""
    frames = _ask_server(server, "jack_bufsize") or _asked_for(server, "-p")
    rate = _ask_server(server, "jack_samplerate") or _asked_for(server, "-r")
    return frames / rate


class XrunWatch:
    """Xruns jackd logs from now on: ``count()`` of those logged since it was made."""

    def __init__(self, server: JackServer):
        self.server = server
        self._start = len(server.log())

    def count(self) -> int:
        return self.server.log()[self._start :].lower().count("xrun")

    def slack(self, period: float) -> float:
        """One more period for a timing bound when the server overran in the window."""
        return period if self.count() else 0.0


XRUN_TRIES = 3  # runs of a scenario before one free of xruns is given up on


def xruns(server: JackServer) -> int:
    """How many XRuns jackd has logged so far: cycles whose MIDI it dropped.

    The dummy server's clients run without real-time priority on a shared 2-core machine,
    so now and then one misses a cycle and that cycle's events (a pulse, a note-off) are
    gone in JACK itself. A timing scenario that saw one measured JACK, not livegen: the
    tests that count every event run it again (``XRUN_TRIES`` in all) and judge the first
    run free of xruns, or the last one if none was.
    """
    return server.log().count("XRun")
