"""Helpers for the panel's tests: sessions on fake ports with tiny models, a fixed model list,
and waiting for the engine from a pilot.

The engine in these sessions is the real one (its own thread, the internal clock at a fast
tempo); only the ports are fakes (tests/fakes.py).
"""

from __future__ import annotations

import asyncio
import time

from livegen.checkpoint import CheckpointError, Loaded
from livegen.engine import Engine
from livegen.live import Session
from livegen.live_config import LiveConfig
from livegen.tui.models import Catalog, ModelEntry, ModelInfo
from tests.fakes import FakePorts
from tests.test_engine import loaded

FAST = 400.0  # BPM: a tick every 37.5 ms, so the tests wait little for the next one

# The fixed model list (target -> name, origin, info): two tiny melody models, a tiny
# performance one (another tick rate: it cannot be switched in) and an unreadable file.
MODELS = {
    "tiny_a": ("tiny_a_melody", "shipped", ModelInfo("melody", 4, 9_452, 41_233, 2.314, 0.3125)),
    "tiny_b": ("tiny_b_melody", "user", ModelInfo("melody", 4, 9_452, 41_233, 2.207, 0.335)),
    "tiny_perf": (
        "tiny_performance",
        "user",
        ModelInfo("performance", 12, 21_608, 90_411, 3.9, 0.2),
    ),
    "broken": ("broken", "file", ModelInfo(error="broken.pt: not a PyTorch file, or corrupt")),
}


class Ports(FakePorts):
    """FakePorts that a Session can close."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def load_tiny(target: str) -> Loaded:
    """The engine's loader for the fixed model list (tiny untrained models)."""
    if target == "tiny_a":
        return loaded("melody", seed=0, name="tiny_a")
    if target == "tiny_b":
        return loaded("melody", seed=1, name="tiny_b")
    if target == "tiny_perf":
        return loaded("performance", seed=0, name="tiny")
    raise CheckpointError(f"{target}.pt: not a PyTorch file, or truncated or corrupt")


def tiny_catalog() -> Catalog:
    """The fixed model list, already described (as ``make_app`` does before the engine starts)."""
    entries = [ModelEntry(name, target, origin) for target, (name, origin, _) in MODELS.items()]
    catalog = Catalog(entries, describe=lambda target: MODELS[target][2])
    for entry in entries:
        catalog.describe(entry)
    return catalog


def fake_session(**cfg) -> Session:
    settings = {
        "bpm": FAST,
        "seed": 1,
        "realtime": False,
        "silence_ticks": 4,
        "response_bars": 1,
        **cfg,
    }
    checkpoint = settings.pop("checkpoint", "tiny_a")
    ports = Ports()
    engine = Engine(load_tiny(checkpoint), ports, LiveConfig(**settings), loader=load_tiny)
    return Session(engine, ports)


def run(coro) -> None:
    """Run a pilot scenario (the suite has no async plugin)."""
    asyncio.run(coro)


async def ticks(pilot, engine: Engine, n: int = 2, timeout: float = 5.0) -> None:
    """Let the engine run ``n`` more ticks (so a control asked for is applied and published)."""
    start = engine.snapshot().tick
    deadline = time.monotonic() + timeout
    while engine.snapshot().tick < start + n:
        if time.monotonic() > deadline:
            raise AssertionError(f"the engine did not tick: {engine.snapshot()}")
        await pilot.pause(0.01)
    await pilot.pause(0.01)


async def until(pilot, predicate, what: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
