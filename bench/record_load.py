"""Does recording a session disturb the engine, and is the file what left? Recording vs not.

The same session runs ``--minutes`` twice on a private ``jackd -d dummy``: the shipped
folk_melody model in free mode (it steps and samples every tick) with pass-through on, a
player process (tests/integration/midi_peer.py) playing a note every quarter into
``livegen in``, and a separate JACK client (midi_peer.py again) recording everything that
arrives from ``livegen out``. Once with ``--record``, once without. The engine runs in its
own process (livegen/server.py), as in ``livegen run``.

Figures: late ticks (sent more than 2 ms after the deadline) over the whole run and the
step's p50/p99 over its last 512 steps (the engine's own), the worst p99 read during the
run (every 0.25 s); for the recording run, the file's livegen track against what the
separate client received, note for note. Last, what a crash-safe write costs the writer
thread: appending one bar of the take's journal and flushing it, against rewriting the
whole MIDI file atomically (temp + fsync + rename), as a per-bar rewrite would at the end
of the take.

    .venv/bin/python bench/record_load.py                 # 2 x 10 minutes
    .venv/bin/python bench/record_load.py --minutes 1     # a quick try
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen import journal  # noqa: E402
from livegen.client import EngineClient  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from livegen.live_config import LiveConfig  # noqa: E402
from tests.integration.events import XrunWatch, note_events  # noqa: E402
from tests.integration.test_recording import file_notes  # noqa: E402

PEER = ROOT / "tests" / "integration" / "midi_peer.py"
READ_EVERY = 0.25


def session(bpm: float, record: Path | None) -> LiveConfig:
    return LiveConfig(
        checkpoint="folk_melody", backend="jack", device="cpu", mode="free", bpm=bpm, seed=1,
        passthrough=True, record=str(record) if record else None,
    )  # fmt: skip


def peer(env: dict, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(PEER), *args],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit(f"midi_peer did not start: {proc.stderr.read()}")
    return proc


def run(server, seconds: float, bpm: float, folder: Path, record: bool) -> dict:
    env, xruns = server.env, XrunWatch(server)
    target = folder / "take.mid" if record else None
    engine = EngineClient.open(session(bpm, target))
    heard_path = folder / f"heard-{record}.json"
    listener = player = None
    p99s: list[float] = []
    try:
        # The ports are open, the take not begun: the listener hears from the first tick on.
        listener = peer(
            env, "--client", "listener", "--record-from", "livegen out", "--hold",
            "--duration", str(seconds + 120), "--report", str(heard_path),
        )  # fmt: skip
        engine.start()
        notes = folder / "call.json"
        beat = 1.0  # a note every quarter, held for most of it
        count = int(seconds * bpm / 60)
        notes.write_text(json.dumps([[60 + (k * 5) % 12, k * beat, 0.8, 80] for k in range(count)]))
        player = peer(
            env, "--client", "player", "--send-to", "livegen in", "--notes-file", str(notes),
            "--bpm", str(bpm), "--duration", str(seconds + 60), "--report", str(folder / "p.json"),
        )  # fmt: skip
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds and engine.running:
            engine.wait(READ_EVERY)
            snap = engine.snapshot()
            p99s.append(snap.step_p99_us)
        wall = time.monotonic() - t0
    finally:
        engine.close()  # every note off, the take finished, before the listener stops
        for proc in (player, listener):
            if proc is not None:
                proc.communicate("quit\n", timeout=60)
    s = engine.snapshot()
    row = {
        "condition": "recording" if record else "not recording",
        "ticks": s.tick + 1,
        "seconds": round(wall, 1),
        "late_ticks": s.late_ticks,
        "step_p50_us": round(s.step_p50_us),
        "step_p99_us": round(s.step_p99_us),
        "step_p99_worst_us": round(max(p99s)),
        "error": s.error,
        "jack_xruns": xruns.count(),  # cycles the dummy server logged as overrun
    }
    if record:
        heard = [e[1:] for e in note_events(json.loads(heard_path.read_text())["received"])]
        recorded = [e[1:] for e in file_notes(target)]
        first_difference = next(
            (i for i, (a, b) in enumerate(zip(recorded, heard, strict=False)) if a != b),
            None if len(recorded) == len(heard) else min(len(recorded), len(heard)),
        )
        row |= {
            "file_notes": len(recorded),
            "client_notes": len(heard),
            "note_for_note": recorded == heard,
            "first_difference": first_difference,
            "file_bytes": target.stat().st_size,
            "write_costs": write_costs(target, bpm),
        }
    return row


def write_costs(take: Path, bpm: float, repeats: int = 20) -> dict:
    """Append one bar of journal lines + flush, against a whole atomic MIDI rewrite."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        events = _journal_of(take, folder)
        bar = 4 * 60.0 / bpm
        seconds = max((t for t, _, _ in events.events), default=0.0)
        per_bar = max(1, round(len(events.events) * bar / max(seconds, bar)))
        lines = [journal.line(*e) for e in events.events[:per_bar]]
        with open(folder / "j", "a") as out:
            t0 = time.perf_counter()
            for _ in range(repeats):
                out.writelines(lines)
                out.flush()
            append = (time.perf_counter() - t0) / repeats
        t0 = time.perf_counter()
        for _ in range(repeats):
            journal.save_atomically(journal.to_midi(events), folder / "whole.mid")
        rewrite = (time.perf_counter() - t0) / repeats
    return {
        "events_in_take": len(events.events),
        "events_per_bar": per_bar,
        "append_bar_and_flush_us": round(append * 1e6, 1),
        "rewrite_whole_file_atomically_us": round(rewrite * 1e6, 1),
    }


def _journal_of(take: Path, folder: Path) -> journal.Journal:
    """The take's events as a journal again (read back from its MIDI tracks)."""
    import mido

    midi = mido.MidiFile(take)
    out = journal.Journal(take, 120.0, 4)
    for track, kind in zip(midi.tracks[1:], (journal.YOU, journal.LIVEGEN), strict=False):
        t = 0
        for msg in track:
            t += msg.time
            if not msg.is_meta:
                out.events.append(
                    (mido.tick2second(t, midi.ticks_per_beat, 500_000), kind, msg.bytes())
                )
    out.events.sort(key=lambda e: e[0])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="each run's length")
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "record_load.json")
    ap.add_argument(
        "--jack-not-realtime",
        action="store_true",
        help="jackd without real-time scheduling (it has it where permitted): on a busy "
        "machine its clients miss cycles and JACK drops their MIDI",
    )
    args = ap.parse_args()
    server = start_dummy_jack(realtime=False if args.jack_not_realtime else None)
    os.environ.update(server.env)  # the engine's process (spawned) opens its ports there
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for record in (True, False):
                rows.append(run(server, args.minutes * 60, args.bpm, Path(folder), record))
                r = rows[-1]
                print(
                    f"{r['condition']:>13}: {r['ticks']} ticks in {r['seconds']} s, late ticks "
                    f"{r['late_ticks']}, step p50 {r['step_p50_us'] / 1000:.2f} ms p99 "
                    f"{r['step_p99_us'] / 1000:.2f} ms (worst read "
                    f"{r['step_p99_worst_us'] / 1000:.2f} ms), JACK xruns {r['jack_xruns']}"
                    f"{'; error: ' + r['error'] if r['error'] else ''}",
                    flush=True,
                )
                if record:
                    c = r["write_costs"]
                    print(
                        f"   file vs client: {r['file_notes']} vs {r['client_notes']} note "
                        f"messages, note for note: {r['note_for_note']}; a bar's journal "
                        f"({c['events_per_bar']} events) {c['append_bar_and_flush_us']} us, "
                        f"a whole atomic rewrite ({c['events_in_take']} events) "
                        f"{c['rewrite_whole_file_atomically_us']} us",
                        flush=True,
                    )
    finally:
        server.stop()
    result = {
        "benchmark": "record_load",
        "command": f"python bench/record_load.py --minutes {args.minutes:g} --bpm {args.bpm:g}"
        + (" --jack-not-realtime" if args.jack_not_realtime else ""),
        "jack_realtime": server.realtime,
        "tick_period_ms": 60_000 / (args.bpm * 4),
        "machine": machine(),
        "load_average_after": os.getloadavg(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
