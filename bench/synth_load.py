"""Does ``--synth`` cost the engine time? Late ticks and step latency with and without FluidSynth;
and how fast ``generate --wav`` renders.

The same session (the shipped folk_melody model in free mode, so it steps, samples and
plays at every tick; virtual ports on a private ``jackd -d dummy``) runs ``--ticks`` ticks
twice: without a synth, then with ``synth=True``, where FluidSynth synthesizes every note
livegen plays in JACK's process cycle on the same two cores. Figures are the engine's own
(late ticks over the run, step p50/p99 over its last 512 steps), and the seconds from
asking for the session to its hello (model, ports, and with --synth FluidSynth started,
its soundfont loaded and connected).

The render is FluidSynth's offline renderer on ``--bars`` bars of continuation: seconds of
audio per second of wall time.

    .venv/bin/python bench/synth_load.py              # 2 x 1,000 ticks at 400 BPM: ~2 min
    .venv/bin/python bench/synth_load.py --ticks 200  # quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen.client import EngineClient  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from livegen.live_config import LiveConfig  # noqa: E402

READ_EVERY = 0.25  # seconds between the bench's snapshot reads


def run_session(ticks: int, bpm: float, synth: bool) -> dict:
    cfg = LiveConfig(checkpoint="folk_melody", backend="jack", device="cpu", mode="free")
    cfg = dataclasses.replace(cfg, bpm=bpm, seed=1, synth=synth)
    t0 = time.perf_counter()
    engine = EngineClient.open(cfg)
    opened = time.perf_counter() - t0
    p99s = []
    try:
        engine.start()
        t1 = time.monotonic()
        while engine.snapshot().tick + 1 < ticks and engine.running:
            engine.wait(READ_EVERY)
            if engine.snapshot().tick >= 0:
                p99s.append(engine.snapshot().step_p99_us)
        wall = time.monotonic() - t1
        s = engine.snapshot()
    finally:
        engine.close()
    return {
        "condition": "with --synth" if synth else "without",
        "open_seconds": round(opened, 2),
        "ticks": s.tick + 1,
        "seconds": round(wall, 1),
        "late_ticks": s.late_ticks,
        "step_p50_us": round(s.step_p50_us),
        "step_p99_us": round(s.step_p99_us),
        "step_p99_worst_us": round(max(p99s)) if p99s else None,
        "notices": list(engine.hello.notices),
        "error": s.error,
    }


def run_render(bars: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "out.wav"
        cmd = [sys.executable, "-m", "livegen.cli", "generate", "--bars", str(bars)]
        cmd += ["--seed", "1", "-o", str(Path(folder) / "out.mid")]
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        from livegen.synth import find_soundfont, render_wav

        sf2 = find_soundfont()
        t0 = time.perf_counter()
        render_wav(Path(folder) / "out.mid", wav, sf2)
        wall = time.perf_counter() - t0
        with wave.open(str(wav)) as w:
            audio = w.getnframes() / w.getframerate()
    return {
        "bars": bars,
        "soundfont": sf2.name,
        "audio_seconds": round(audio, 2),
        "render_seconds": round(wall, 3),
        "x_real_time": round(audio / wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1000)
    ap.add_argument(
        "--bpm", type=float, default=400.0, help="16th-note ticks at this tempo (at most 400)"
    )
    ap.add_argument("--bars", type=int, default=64, help="continuation rendered to WAV")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "synth_load.json")
    args = ap.parse_args()
    server = start_dummy_jack()
    os.environ.update(server.env)  # the engine's process (spawned) opens its ports there
    rows = []
    try:
        for synth in (False, True):
            rows.append(run_session(args.ticks, args.bpm, synth))
            r = rows[-1]
            print(
                f"{r['condition']:>12}: opened in {r['open_seconds']} s; {r['ticks']} ticks in "
                f"{r['seconds']} s, late ticks {r['late_ticks']}, step p50 "
                f"{r['step_p50_us'] / 1000:.2f} ms p99 {r['step_p99_us'] / 1000:.2f} ms (worst "
                f"read {r['step_p99_worst_us'] / 1000:.2f} ms)"
                f"{'; error: ' + r['error'] if r['error'] else ''}",
                flush=True,
            )
    finally:
        server.stop()
    render = run_render(args.bars)
    print(
        f"      render: {render['bars']} bars, {render['audio_seconds']} s of audio in "
        f"{render['render_seconds']} s ({render['x_real_time']}x real time, {render['soundfont']})"
    )
    result = {
        "benchmark": "synth_load",
        "command": f"python bench/synth_load.py --ticks {args.ticks} --bpm {args.bpm:g} "
        f"--bars {args.bars}",
        "tick_period_ms": 60_000 / (args.bpm * 4),
        "machine": machine(),
        "results": rows,
        "render": render,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
