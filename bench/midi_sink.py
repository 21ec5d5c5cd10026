"""A separate process that records when MIDI messages arrive on a JACK input port.

Run by bench/jack_timing.py: connects its input to ``--source``, prints ``ready``, stamps
every message with ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, so comparable with
the sender's stamps; polled from a thread, never by a callback, which loses events when the
GIL is busy: tests/integration/polled_input.py) and writes ``[[stamp, status], ...]`` as
JSON to ``--out`` when its stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rtmidi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from polled_input import PolledInput  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="JACK port to listen to")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="bench-sink", queue_size_limit=65536)
    midi_in.ignore_types(sysex=False, timing=False, active_sense=False)
    deadline = time.monotonic() + 10
    while True:
        names = midi_in.get_ports()
        hits = [i for i, n in enumerate(names) if args.source in n]
        if hits:
            midi_in.open_port(hits[0], "in")
            break
        if time.monotonic() > deadline:
            print(f"no port {args.source!r} among {names}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    recorder = PolledInput(midi_in).start()
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    time.sleep(0.2)  # the last period's messages
    received = [(t, data[0]) for t, data in recorder.stop()]
    midi_in.close_port()
    with open(args.out, "w") as f:
        json.dump(received, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
