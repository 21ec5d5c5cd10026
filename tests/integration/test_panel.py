"""The panel on a real JACK server: a model switch from the model list while livegen answers
a call that a separate process plays in, with nothing left sounding and no tick skipped.

The app runs under Textual's pilot in this process; the engine runs in its own process
(livegen/server.py) with the real session (virtual ports on the module's private ``jackd -d
dummy``, the shipped models); the peer (``midi_peer.py``) plays the call and records what
livegen sends, across JACK. Closing and killing the panel: test_boundary.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from livegen import checkpoint
from livegen.client import EngineClient
from livegen.live_config import LiveConfig
from livegen.tui.launch import make_app
from livegen.tui.models import Catalog, ModelEntry
from livegen.tui.widgets import ModelTable
from tests.integration.events import hanging, note_events

pytestmark = pytest.mark.jack

CALL = "60:0:0.5,62:0.5:0.5,64:1:0.5,65:1.5:0.5,67:2:1"  # three quarters, ends on a held note
MAX_LATE = 3  # a switch loads a checkpoint in a helper thread; see the printed figures
PERIOD = 60 / (120 * 4)  # seconds per tick at 120 BPM
LINGER = 12.0  # seconds the peer records after its call: the answer (8 s) and the close


def shipped(name: str) -> ModelEntry:
    return ModelEntry(name, str(checkpoint.SHIPPED_DIR / f"{name}.pt"), "shipped")


def test_switching_models_from_the_panel_while_answering(jack_server, peer, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path / "config"))
    cfg = LiveConfig(
        checkpoint="folk_melody",
        backend="jack",
        device="cpu",
        seed=7,
        bpm=120,
        silence_ticks=4,
        response_bars=4,  # 8 s: room for the switch to land mid-answer on a busy machine
    )
    catalog = Catalog([shipped("chorale_poly"), shipped("folk_melody")])
    app = make_app(lambda remembered: EngineClient.open(cfg), catalog=catalog)
    engine = app.engine
    phases: list[str] = []
    switched_in: list[str] = []

    async def wait(pilot, predicate, what: str, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            snap = engine.snapshot()
            if not phases or phases[-1] != snap.phase:
                phases.append(snap.phase)
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {phases}"
            await pilot.pause(0.01)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await wait(pilot, lambda: engine.snapshot().tick >= 0, "the first tick")
            first = (engine.snapshot().tick, time.perf_counter())
            p = peer(
                "--send-to",
                "livegen in",
                "--record-from",
                "livegen out",
                "--notes",
                CALL,
                "--linger",
                str(LINGER),
                "--duration",
                str(LINGER + 20),  # never the limit: the linger after the call is
            )
            await wait(pilot, lambda: engine.snapshot().open_notes, "the answer's first note")
            assert engine.snapshot().phase == "answering"
            table = app.query_one(ModelTable)
            assert table.get_cell(catalog.entries[1].target, "model").startswith("▶")
            await pilot.press("up", "enter")  # chorale_poly, first in the list
            await wait(pilot, lambda: engine.snapshot().model == "chorale_poly", "the switch")
            switched_in.append(engine.snapshot().phase)
            await wait(pilot, lambda: engine.snapshot().phase == "listening", "the answer's end")
            await pilot.pause(0.3)
            snap = engine.snapshot()
            last = (snap.tick, time.perf_counter())
            await pilot.press("q")
            return p, snap, first, last

    p, snap, first, last = asyncio.run(scenario())
    closed = time.perf_counter()
    # The peer records until LINGER after its call, so it hears the session close; not
    # "quit": on quit it would wait LINGER again.
    report = p.wait(timeout=LINGER + 10)
    call_end = max(t for t, _ in report["sent"])
    assert closed < call_end + LINGER - 0.5, "too slow to judge: the peer stopped first"
    final = engine.snapshot()
    assert engine.error is None and not engine.running and engine.process.exitcode == 0

    got = note_events(report["received"])
    ons = [e for e in got if e[1] == "on"]
    assert ons, f"livegen answered nothing; phases {phases}"
    assert hanging(got) == set(), "notes left sounding"
    assert final.open_notes == ()
    assert switched_in == ["answering"], "the switch did not land during the answer"
    assert "switched to chorale_poly" in app.notices
    # The clock kept time through the switch (the tick count follows the wall clock, within
    # the pushing and polling delay) and lateness counted by the engine stays small.
    ticks = last[0] - first[0]
    expected = (last[1] - first[1]) / PERIOD
    print(
        f"\npanel switch: {ticks} ticks ({expected:.1f} by the clock), late {snap.late_ticks}, "
        f"step p50 {snap.step_p50_us:.0f} us p99 {snap.step_p99_us:.0f} us, "
        f"{len(ons)} notes answered"
    )
    assert abs(ticks - expected) <= 3, "the engine did not keep time"
    assert snap.late_ticks <= MAX_LATE
