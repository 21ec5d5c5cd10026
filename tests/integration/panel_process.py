"""The panel as a process of its own, for the tests that kill it: ``livegen panel``'s app
(launch.make_app around an EngineClient) run headless, so no terminal is needed.

It prints ``READY {json}`` (its pid and the engine's) once the engine ticks, and runs until
it is killed or a line ``quit`` arrives on stdin (then it quits as ``q`` does).

    python tests/integration/panel_process.py --mode free --passthrough

bench/harmonize_latency.py --panel runs it too, with its own model, tempo and temperature,
and a ``--settings`` file of its own so the bench leaves the user's remembered settings be.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from livegen.client import EngineClient  # noqa: E402
from livegen.live_config import LiveConfig  # noqa: E402
from livegen.tui.launch import make_app  # noqa: E402
from livegen.tui.models import Catalog  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="free")
    ap.add_argument("--passthrough", action="store_true")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--checkpoint", default="folk_melody")
    ap.add_argument("--bpm", type=float, default=LiveConfig.bpm)
    ap.add_argument("--temperature", type=float, default=LiveConfig.temperature)
    ap.add_argument("--settings", type=Path, help="remembered settings (default: the user's)")
    args = ap.parse_args()
    cfg = LiveConfig(
        checkpoint=args.checkpoint,
        backend="jack",
        device="cpu",
        mode=args.mode,
        passthrough=args.passthrough,
        seed=args.seed,
        bpm=args.bpm,
        temperature=args.temperature,
    )
    app = make_app(
        lambda remembered: EngineClient.open(cfg),
        catalog=Catalog([]),
        settings_path=args.settings,
    )

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            engine = app.engine
            while engine.snapshot().tick < 1:
                await pilot.pause(0.02)
            ready = {"pid": os.getpid(), "engine_pid": engine.hello.pid}
            print("READY " + json.dumps(ready), flush=True)
            quit_asked = threading.Event()
            threading.Thread(
                target=lambda: (sys.stdin.readline(), quit_asked.set()), daemon=True
            ).start()
            while not quit_asked.is_set():
                await pilot.pause(0.1)  # the panel redraws meanwhile, as it would on screen
            await pilot.press("q")

    t0 = time.monotonic()
    asyncio.run(scenario())
    snap = app.engine.snapshot()
    said = [t for t in snap.notices if t.startswith("harmonize: ")]  # said as it closed
    done = {"open": len(snap.open_notes), "s": time.monotonic() - t0, "said": said[-1:]}
    print(f"DONE {json.dumps(done)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
