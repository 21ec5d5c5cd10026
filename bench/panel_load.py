"""Does the open panel delay the engine? Late ticks and step latency, panel open vs headless.

The engine runs in its own process (livegen/server.py). The same session (the shipped
folk_melody model in free mode, so it steps and samples at every tick; virtual ports on a
private ``jackd -d dummy``) runs ``--ticks`` ticks twice, with the other core busy (a
spinning process) both times:

- ``panel``: the Textual panel (``launch.make_app`` around an ``EngineClient``, the shipped
  model list described in its background) driven headless with ``run_test``: it redraws
  5 times a second from the snapshots and a key changes the temperature every second;
- ``headless``: a client that only reads the snapshot 4 times a second, as ``livegen run``.

Figures are the engine's own: late ticks (sent more than 2 ms after the deadline) over the
whole run, and the step's p50/p99 over its last 512 steps; ``p99_worst`` is the highest
p99 read during the run (snapshots every 0.25 s), so a bad stretch is not averaged away.
Before the engine had a process of its own, the panel's redraws shared its GIL: step p99
6-16 ms with the panel open against 1-3 ms headless, and late ticks.

    .venv/bin/python bench/panel_load.py                         # 2 x 10,000 ticks: ~42 min
    .venv/bin/python bench/panel_load.py --ticks 400             # quick, at 120 BPM
    .venv/bin/python bench/panel_load.py --ticks 2000 --bpm 480  # more ticks, faster
"""

from __future__ import annotations

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.step_latency import machine  # noqa: E402
from livegen.client import EngineClient  # noqa: E402
from livegen.jack import start_dummy_jack  # noqa: E402
from livegen.live_config import LiveConfig  # noqa: E402

READ_EVERY = 0.25  # seconds between the bench's own snapshot reads


def session(bpm: float) -> LiveConfig:
    return LiveConfig(
        checkpoint="folk_melody", backend="jack", device="cpu", mode="free", bpm=bpm, seed=1
    )


class Reading:
    """The snapshots read during one condition, and the figures from them."""

    def __init__(self) -> None:
        self.p99s: list[float] = []
        self.first: tuple[int, float] | None = None
        self.last = None

    def read(self, snap) -> None:
        if snap.tick < 0:
            return
        if self.first is None:
            self.first = (snap.tick, time.perf_counter())
        self.last = snap
        self.p99s.append(snap.step_p99_us)

    def row(self, condition: str, wall: float) -> dict:
        s = self.last
        return {
            "condition": condition,
            "ticks": s.tick + 1,
            "seconds": round(wall, 1),
            "late_ticks": s.late_ticks,
            "step_p50_us": round(s.step_p50_us),
            "step_p99_us": round(s.step_p99_us),
            "step_p99_worst_us": round(max(self.p99s)),
            "dropped_input": s.dropped_input,
            "error": s.error,
        }


def run_panel(ticks: int, bpm: float) -> dict:
    from livegen.tui.launch import make_app

    with tempfile.TemporaryDirectory() as folder:
        app = make_app(
            lambda remembered: EngineClient.open(session(bpm)),
            settings_path=Path(folder) / "state.yaml",
        )
        engine, reading = app.engine, Reading()

        async def scenario() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                t0 = next_key = time.monotonic()
                up = True
                while engine.snapshot().tick + 1 < ticks and engine.running:
                    await pilot.pause(READ_EVERY)
                    reading.read(engine.snapshot())
                    if time.monotonic() >= next_key:
                        next_key += 1.0
                        await pilot.press("right_square_bracket" if up else "left_square_bracket")
                        up = not up
                reading.read(engine.snapshot())
                reading.wall = time.monotonic() - t0
                await pilot.press("q")

        asyncio.run(scenario())
        return reading.row("panel", reading.wall) | {"panel_notices": len(app.notices)}


def run_headless(ticks: int, bpm: float) -> dict:
    engine, reading = EngineClient.open(session(bpm)), Reading()
    try:
        engine.start()
        t0 = time.monotonic()
        while engine.snapshot().tick + 1 < ticks and engine.running:
            engine.wait(READ_EVERY)
            reading.read(engine.snapshot())
        reading.read(engine.snapshot())
        wall = time.monotonic() - t0
    finally:
        engine.close()
    return reading.row("headless", wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000)
    ap.add_argument("--bpm", type=float, default=120.0, help="16th-note ticks at this tempo")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "panel_load.json")
    args = ap.parse_args()
    server = start_dummy_jack()
    os.environ.update(server.env)  # the engine's process (spawned) opens its ports there
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    rows = []
    try:
        for run in (run_panel, run_headless):
            rows.append(run(args.ticks, args.bpm))
            r = rows[-1]
            print(
                f"{r['condition']:>9}: {r['ticks']} ticks in {r['seconds']} s, late ticks "
                f"{r['late_ticks']}, step p50 {r['step_p50_us'] / 1000:.2f} ms p99 "
                f"{r['step_p99_us'] / 1000:.2f} ms (worst read {r['step_p99_worst_us'] / 1000:.2f}"
                f" ms){'; error: ' + r['error'] if r['error'] else ''}",
                flush=True,
            )
    finally:
        spinner.kill()
        spinner.wait()
        server.stop()
    panel, headless = rows
    ratio = {
        key: round(panel[key] / headless[key], 2) if headless[key] else None
        for key in ("step_p50_us", "step_p99_us", "step_p99_worst_us")
    }
    print(
        f"    ratio: panel / headless step p50 {ratio['step_p50_us']}, p99 {ratio['step_p99_us']}"
        f", worst p99 {ratio['step_p99_worst_us']}; late ticks {panel['late_ticks']} vs "
        f"{headless['late_ticks']}"
    )
    command = f"python bench/panel_load.py --ticks {args.ticks} --bpm {args.bpm:g}"
    result = {
        "benchmark": "panel_load",
        "command": command,
        "tick_period_ms": 60_000 / (args.bpm * 4),
        "other_core": "busy (a spinning process)",
        "machine": machine(),
        "results": rows,
        "ratio_panel_over_headless": ratio,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
