"""A separate MIDI client process that plays to livegen and records what it answers.

The integration tests run it with the same Python as a subprocess, so the notes
cross a real JACK server between two processes, as they do from a DAW. It talks
to python-rtmidi directly (not through livegen or mido), so the two ends share
no code. Either it connects to existing ports by name (``--send-to``,
``--record-from``: exact or unique substring), or it creates virtual ports of
its own (``--virtual-out``, ``--virtual-in``) for livegen to open by name.

It prints one line ``READY {json}`` once its ports are up, plays the primer
(``--notes "pitch:start:duration[:velocity],..."`` in quarter notes, or
``--notes-file`` JSON: a list of such rows) at ``--bpm``, or a flood of
``--flood`` messages in ``--flood-seconds``, and with either of them MIDI clock
(``--clock BPM``: Start, ``--clock-pulses`` pulses at 24 per quarter, then Stop
where the next pulse would fall) and raw messages (``--events-file`` JSON: rows
``[seconds, [byte, ...]]``), records every message arriving with
its ``perf_counter`` stamp (the same clock as the test process on Linux; polled, not by a
callback that would lose events, see polled_input.py), and
writes a JSON report to ``--report`` after ``--duration`` seconds (or ``--linger``
seconds after playing, unless ``--hold``), on a line
``quit`` on stdin, on stdin closing or on SIGTERM.

    python tests/integration/midi_peer.py --send-to "livegen in" \
        --record-from "livegen out" --notes "60:0:1,64:1:1" --bpm 120 --report r.json
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

import rtmidi
from polled_input import PolledInput

APIS = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA}


def parse_notes(spec: str) -> list[tuple[int, float, float, int]]:
    rows = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        fields = item.split(":")
        pitch, start, duration = int(fields[0]), float(fields[1]), float(fields[2])
        velocity = int(fields[3]) if len(fields) > 3 else 80
        rows.append((pitch, start, duration, velocity))
    return rows


def primer_events(notes, bpm: float) -> list[tuple[float, list[int]]]:
    """(seconds from the primer's start, message bytes), note-offs first at equal times."""
    beat = 60.0 / bpm
    events = []
    for pitch, start, duration, velocity in notes:
        events.append((start * beat, 1, [0x90, pitch, velocity]))
        events.append(((start + duration) * beat, 0, [0x80, pitch, 0]))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(t, msg) for t, _, msg in events]


def flood_events(count: int, seconds: float) -> list[tuple[float, list[int]]]:
    """``count`` messages spread over ``seconds``: note-on/note-off pairs, balanced."""
    return [
        (k * seconds / count, [0x90 if k % 2 == 0 else 0x80, 36 + (k // 2) % 48, 64 * (k % 2 == 0)])
        for k in range(count)
    ]


def clock_events(bpm: float, pulses: int) -> list[tuple[float, list[int]]]:
    """Start, ``pulses`` pulses from time 0 (24 per quarter), Stop one pulse after the last."""
    step = 60.0 / (bpm * 24)
    events = [(0.0, [0xFA])]
    events += [(k * step, [0xF8]) for k in range(pulses)]
    events.append((pulses * step, [0xFC]))
    return events


def merge(*streams: list[tuple[float, list[int]]]) -> list[tuple[float, list[int]]]:
    """One time-ordered stream; at equal times the earlier stream's messages go first."""
    rows = [(t, k, i, msg) for k, s in enumerate(streams) for i, (t, msg) in enumerate(s)]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [(t, msg) for t, _, _, msg in rows]


def wait_until(t: float) -> None:
    while True:
        left = t - time.perf_counter()
        if left <= 0:
            return
        time.sleep(left - 0.0005 if left > 0.001 else 0)


def find_port(rt, wanted: str, timeout: float = 5.0) -> int:
    """Index of the port named ``wanted`` (exact, else unique substring), waiting a little."""
    deadline = time.perf_counter() + timeout
    while True:
        names = rt.get_ports()
        if wanted in names:
            return names.index(wanted)
        hits = [i for i, n in enumerate(names) if wanted.lower() in n.lower()]
        if len(hits) == 1:
            return hits[0]
        if time.perf_counter() > deadline:
            raise SystemExit(f"midi_peer: no unique port {wanted!r} among {names}")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=sorted(APIS), default="jack")
    ap.add_argument("--client", default="livegen-peer", help="client name prefix")
    ap.add_argument("--send-to", help="livegen's input port to connect to and play into")
    ap.add_argument("--record-from", help="livegen's output port to connect to and record")
    ap.add_argument("--virtual-out", help="create this virtual output instead of --send-to")
    ap.add_argument("--virtual-in", help="create this virtual input instead of --record-from")
    ap.add_argument("--notes", default="", help="primer: pitch:start:duration[:velocity],...")
    ap.add_argument("--notes-file", help="primer as JSON rows [pitch, start, duration, velocity]")
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--start-delay", type=float, default=0.2, help="seconds after READY")
    ap.add_argument("--flood", type=int, default=0, help="send this many messages")
    ap.add_argument("--flood-seconds", type=float, default=1.0)
    ap.add_argument("--clock", type=float, metavar="BPM", help="also send Start, pulses, Stop")
    ap.add_argument("--clock-pulses", type=int, default=96, help="pulses before Stop")
    ap.add_argument("--events-file", help="also send raw messages: JSON [[seconds, [bytes]]]")
    ap.add_argument("--duration", type=float, default=10.0, help="record at most this long")
    ap.add_argument("--linger", type=float, default=0.3, help="keep recording after playing")
    ap.add_argument(
        "--hold", action="store_true", help="after playing, record on until quit or --duration"
    )
    ap.add_argument("--report", help="JSON report path (default: stdout)")
    args = ap.parse_args(argv)

    api = APIS[args.backend]
    received: list[tuple[float, list[int]]] = []
    sent: list[tuple[float, list[int]]] = []
    stop = threading.Event()

    midi_in = midi_out = None
    info: dict = {}
    if args.record_from or args.virtual_in:
        midi_in = rtmidi.MidiIn(api, name=f"{args.client}-in", queue_size_limit=65536)
        midi_in.ignore_types(sysex=False, timing=False, active_sense=True)
        if args.virtual_in:
            midi_in.open_virtual_port(args.virtual_in)
        else:
            index = find_port(midi_in, args.record_from)
            info["record_from"] = midi_in.get_ports()[index]
            midi_in.open_port(index, "record")
    if args.send_to or args.virtual_out:
        midi_out = rtmidi.MidiOut(api, name=f"{args.client}-out")
        if args.virtual_out:
            midi_out.open_virtual_port(args.virtual_out)
        else:
            index = find_port(midi_out, args.send_to)
            info["send_to"] = midi_out.get_ports()[index]
            midi_out.open_port(index, "play")

    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == "quit":
                break
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    recorder = PolledInput(midi_in).start() if midi_in is not None else None
    ready = time.perf_counter()
    info["ready"] = ready
    print("READY " + json.dumps(info), flush=True)

    events: list[tuple[float, list[int]]] = []
    if args.notes_file:
        with open(args.notes_file) as f:
            events = primer_events([tuple(r) for r in json.load(f)], args.bpm)
    elif args.notes:
        events = primer_events(parse_notes(args.notes), args.bpm)
    if args.flood:
        events = merge(events, flood_events(args.flood, args.flood_seconds))
    if args.events_file:
        with open(args.events_file) as f:
            events = merge(events, [(float(t), [int(b) for b in m]) for t, m in json.load(f)])
    if args.clock:
        # Clock first at equal times: a tick's pulse comes before the notes played on it.
        events = merge(clock_events(args.clock, args.clock_pulses), events)
    if events and midi_out is None:
        raise SystemExit("midi_peer: notes to play but no output (--send-to or --virtual-out)")

    end = ready + args.duration
    t0 = ready + args.start_delay
    for offset, msg in events:
        if stop.is_set():
            break
        wait_until(t0 + offset)
        midi_out.send_message(msg)
        sent.append((time.perf_counter(), msg))
    if events and not args.hold:
        end = min(end, time.perf_counter() + args.linger)
    while not stop.is_set() and time.perf_counter() < end:
        stop.wait(min(0.05, max(0.0, end - time.perf_counter())))
    if stop.is_set():
        time.sleep(args.linger)  # what was sent just before "quit" may still be in flight

    if recorder is not None:
        received = recorder.stop()
    for port in (midi_in, midi_out):
        if port is not None:
            port.close_port()
            port.delete()
    report = {
        **info,
        "t0": t0,
        "sent": [[t, list(m)] for t, m in sent],
        "received": [[t, list(m)] for t, m in list(received)],
    }
    text = json.dumps(report)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    else:
        print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
