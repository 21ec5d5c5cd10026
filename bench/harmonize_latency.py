"""Reaction of ``harmonize`` through a real JACK server, against pass-through in the same run.

``livegen run --mode harmonize --passthrough`` runs on a private ``jackd -d dummy`` server
(48 kHz, 256-frame periods: 5.33 ms); a separate process (tests/integration/midi_peer.py)
plays a melody into it, one note every 8th at a random phase of the tick, and records
what comes back, all stamped at the peer. For each melody note-on:

- pass-through: the echo of the same pitch (livegen's MIDI thru, the reference);
- harmony: livegen's first other note-on after it (from the harmonize table, sent in the
  same pass between ticks right after the echo);
- missed: no harmony note within one tick; a note whose echo is missing too never reached
  livegen (JACK's dummy driver drops events in an xrun) and is counted apart. A trained
  model's row may hold its chord under your note (nothing new to strike): livegen's own
  count, printed as the session closes and saved as ``livegen_said``, tells those apart
  from note-ons no table answered (``at their tick``) or answered late (``after waiting``).

The model is the built fixture of tests/integration/test_harmonize.py (the chorale_harmony
shape, a chord struck in every row), or ``--checkpoint``. Headless by default; with
``--panel`` the same session runs under livegen's Textual panel instead of ``livegen run``
(tests/integration/panel_process.py: ``make_app`` around an ``EngineClient``, driven by
``run_test`` and redrawing from the snapshots; the engine in a process of its own, as with
``livegen panel``), as issue 9's "with the panel open" asks. Writes
bench/results/harmonize_latency.json (``--panel``: harmonize_latency_panel.json).

    .venv/bin/python bench/harmonize_latency.py                  # 400 notes, ~2 minutes
    .venv/bin/python bench/harmonize_latency.py --notes 2000     # the issue's count, ~9 min
    .venv/bin/python bench/harmonize_latency.py --notes 2000 --panel   # the panel open
    .venv/bin/python bench/harmonize_latency.py --notes 2000 --model chorale_harmony
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen.checkpoint import resolve  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from tests.integration.events import note_events  # noqa: E402
from tests.integration.test_harmonize import built_model  # noqa: E402

PEER = ROOT / "tests" / "integration" / "midi_peer.py"
PANEL = ROOT / "tests" / "integration" / "panel_process.py"
BPM, TPQ = 120.0, 4
TICK = 60.0 / (BPM * TPQ)


def melody(n: int, seed: int = 0) -> list[list[float]]:
    """``n`` notes of 60..81 (not 64, a pitch the built model plays), one per 8th."""
    rng = np.random.default_rng(seed)
    pitches = [p for p in range(60, 82) if p != 64]
    rows = []
    for k in range(n):
        start = 1.0 + 0.5 * k + float(rng.uniform(0.0, 0.2))  # any phase of the tick
        rows.append([int(rng.choice(pitches)), start, 0.25, 90])
    return rows


def stats(ms: np.ndarray) -> dict:
    if len(ms) == 0:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def start_headless(ckpt: Path, env: dict, tmp: Path) -> subprocess.Popen:
    """``livegen run``, once its ports are up."""
    cmd = [sys.executable, "-m", "livegen.cli", "run", "--backend", "jack", "--bpm", str(BPM)]
    cmd += ["--mode", "harmonize", "--passthrough", "--checkpoint", str(ckpt)]
    cmd += ["--temperature", "1", "--seed", "3", "--duration", "3600"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    while "listening on" not in (line := proc.stdout.readline()):
        if not line and proc.poll() is not None:
            raise SystemExit(f"livegen run failed: {proc.stderr.read().strip()}")
    return proc


def start_panel(ckpt: Path, env: dict, tmp: Path) -> subprocess.Popen:
    """The panel around the same session, once its engine ticks (its READY line)."""
    cmd = [sys.executable, str(PANEL), "--mode", "harmonize", "--passthrough"]
    cmd += ["--checkpoint", str(ckpt), "--bpm", str(BPM), "--temperature", "1", "--seed", "3"]
    cmd += ["--settings", str(tmp / "state.yaml")]  # not the user's remembered settings
    # stderr (the engine's process too) goes to a file: a pipe nobody reads for 9 minutes
    # could fill and stall the engine.
    with open(tmp / "panel.err", "w") as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=err, text=True,
        )  # fmt: skip
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        proc.wait(20)
        raise SystemExit(f"the panel failed: {(tmp / 'panel.err').read_text().strip()}")
    return proc


def stop(proc: subprocess.Popen, panel: bool, tmp: Path) -> tuple[int | None, str | None]:
    """End livegen (for the panel, as ``q`` does): the notes the panel left open, and
    livegen's own count of the note-ons its tables answered (its last ``harmonize:`` line)."""
    if not panel:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        said = [line for line in out.splitlines() if line.startswith("harmonize: ")]
        return None, said[-1] if said else None
    out, _ = proc.communicate("quit\n", timeout=60)
    done = [line for line in out.splitlines() if line.startswith("DONE ")]
    if proc.returncode != 0 or not done:
        err = (tmp / "panel.err").read_text().strip()
        raise SystemExit(f"the panel did not quit cleanly (exit {proc.returncode}): {err}")
    got = json.loads(done[-1][5:])
    return got["open"], (got.get("said") or [None])[-1]


def held_under(got: dict, t_sent: float, pitch: int, settle: float = 0.02) -> bool:
    """Whether livegen's part was sounding under the note struck at ``t_sent``: a note of
    livegen's on at ``t_sent + settle`` (the echo has arrived by then) that is neither the
    note's own echo nor the echo of a melody note the peer still held just before."""
    at = t_sent + settle
    melody = set()
    for t, m in got["sent"]:
        if t >= t_sent:
            break
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            melody.add(m[1])
        elif m[0] & 0xF0 in (0x80, 0x90) and t < t_sent - settle:
            melody.discard(m[1])  # released long enough ago for its echo's off to be back
    sounding: set[int] = set()
    for t, kind, p, _ in note_events(got["received"]):
        if t > at:
            break
        (sounding.add if kind == "on" else sounding.discard)(p)
    return bool(sounding - melody - {pitch})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=400)
    ap.add_argument("--checkpoint", "--model", help="a parts model, a name or a path "
                    "(default: the built fixture)")  # fmt: skip
    ap.add_argument("--panel", action="store_true", help="run it with the panel open")
    ap.add_argument("--out", type=Path, help="the JSON written (default: bench/results/...)")
    args = ap.parse_args()
    name = "harmonize_latency_panel.json" if args.panel else "harmonize_latency.json"
    args.out = args.out or ROOT / "bench" / "results" / name
    load_start = os.getloadavg()[0]  # the machine is shared: the figures say how busy
    server = start_dummy_jack()
    tmp = Path(tempfile.mkdtemp(prefix="livegen-bench-"))
    ckpt = resolve(args.checkpoint) if args.checkpoint else built_model(tmp / "built_harmony.pt")
    env = {**server.env, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc, left_open, said = None, None, None
    try:
        proc = (start_panel if args.panel else start_headless)(ckpt, env, tmp)
        rows = melody(args.notes)
        notes = tmp / "melody.json"
        notes.write_text(json.dumps(rows))
        report = tmp / "report.json"
        seconds = (rows[-1][1] + 2) * 60.0 / BPM + 5
        peer = [sys.executable, str(PEER), "--send-to", "livegen in", "--record-from"]
        peer += ["livegen out", "--bpm", str(BPM), "--notes-file", str(notes)]
        peer += ["--start-delay", "1.0", "--linger", "1.0", "--duration", str(seconds)]
        peer += ["--report", str(report)]
        print(f"playing {args.notes} notes ({seconds:.0f} s)...", flush=True)
        # stdin stays open: the peer stops when it closes.
        player = subprocess.Popen(peer, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        if player.wait(timeout=seconds + 60) != 0:
            raise SystemExit("the peer failed")
        left_open, said = stop(proc, args.panel, tmp)
    finally:
        if proc is not None and proc.poll() is None:  # a failure on the way: end it anyway
            proc.terminate()
            proc.communicate(timeout=20)
        server.stop()
    got = json.loads(report.read_text())
    ons = [(t, p) for t, kind, p, _ in note_events(got["received"]) if kind == "on"]
    struck = [(t, m[1]) for t, m in got["sent"] if m[0] == 0x90 and m[2] > 0]
    thru, harmony, missed, lost, held = [], [], 0, 0, 0
    for t_sent, pitch in struck:
        echo = [t - t_sent for t, p in ons if t_sent <= t <= t_sent + TICK and p == pitch]
        other = [t - t_sent for t, p in ons if t_sent <= t <= t_sent + TICK and p != pitch]
        if not echo:  # no thru either: livegen never got the note (lost in a JACK xrun)
            lost += 1
            continue
        thru.append(min(echo))
        if other:
            harmony.append(min(other))
        else:
            missed += 1
            if held_under(got, t_sent, pitch):
                held += 1
    results = {
        "notes": len(struck),
        "tick_ms": TICK * 1000,
        "passthrough": stats(np.array(thru) * 1000),
        "harmony": stats(np.array(harmony) * 1000),
        "missed": missed,
        # of those, livegen's part was sounding (a chord held on) under the note: harmony
        # with it, not silence; the rest had nothing of livegen's sounding at all
        "missed_but_held_sounding": held,
        "missed_silent": missed - held,
        "input_lost": lost,
        "panel": args.panel,
        "model": "built fixture" if not args.checkpoint else str(args.checkpoint),
        "load_1min_start": round(load_start, 2),
        "load_1min_end": round(os.getloadavg()[0], 2),
    }
    p, h = results["passthrough"], results["harmony"]
    if p.get("n") and h.get("n"):
        results["harmony_p99_minus_passthrough_p99_ms"] = round(h["p99_ms"] - p["p99_ms"], 3)
    for key in ("passthrough", "harmony"):
        print(f"{key:12s} " + "  ".join(f"{k} {v}" for k, v in results[key].items()))
    print(
        f"missed {missed} of {len(struck)} ({held} with livegen's chord held on and sounding "
        f"under the note, {missed - held} silent); {lost} never reached livegen (no thru either)"
    )
    results["livegen_said"] = said  # its tables' answers, waits and builds, as it closed
    print(f"livegen: {said}")
    if args.panel:
        results["open_notes_at_quit"] = left_open
        print(f"notes livegen left open when the panel quit: {left_open}")
    args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
