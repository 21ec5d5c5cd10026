"""Polyphonic calls played into the panel by a separate JACK client, the other core busy.

The redesign issue's report: with the panel open, a chorale call (our own
``configs/primers/chorale.mid``) was never answered in 2 of 4 runs when the other core was
busy; the panel said "playing now" for good. Here the peer plays the chorale three times,
a spinning process keeps the other core busy, and every call must be answered, with
livegen hearing every key released and nothing left sounding.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from livegen import checkpoint
from livegen.client import EngineClient
from livegen.live_config import LiveConfig
from livegen.midifile import read_midi
from livegen.paths import PRIMERS
from livegen.tui.launch import make_app
from livegen.tui.models import Catalog, ModelEntry
from tests.integration.events import hanging, note_events

pytestmark = pytest.mark.jack

CALLS = 3
GAP = 10.0  # quarters between calls: the silence (2) and the answer (4) fit with room
LINGER = 8.0  # seconds the peer records after its last call: the last answer and the close


def chorale_calls(tmp_path) -> tuple[str, float]:
    """The shipped chorale primer, CALLS times, as the peer's notes file; and its length."""
    notes = read_midi(PRIMERS / "chorale.mid").notes
    length = float(notes[:, 2].max())
    rows = [
        [int(p), float(s) + k * (length + GAP), float(e - s), int(v)]
        for k in range(CALLS)
        for p, s, e, v in notes
    ]
    path = tmp_path / "calls.json"
    path.write_text(json.dumps(rows))
    return str(path), length


@pytest.fixture
def busy_core():
    """A process spinning on the other core for the test (bounded: it stops by itself)."""
    spin = "import time\nend = time.time() + 120\nwhile time.time() < end: pass"
    hog = subprocess.Popen([sys.executable, "-c", spin])
    yield hog
    hog.kill()
    hog.wait()


def test_every_polyphonic_call_into_the_panel_is_answered_with_the_other_core_busy(
    jack_server, peer, busy_core, tmp_path, monkeypatch
):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path / "config"))
    notes_file, length = chorale_calls(tmp_path)
    cfg = LiveConfig(
        checkpoint="chorale_poly", backend="jack", device="cpu", seed=3, bpm=120, response_bars=1
    )
    shipped = checkpoint.SHIPPED_DIR / "chorale_poly.pt"
    catalog = Catalog([ModelEntry("chorale_poly", str(shipped), "shipped")])
    app = make_app(lambda remembered: EngineClient.open(cfg), catalog=catalog)
    engine = app.engine
    seconds = (CALLS * (length + GAP)) * 60 / 120
    answers: list[float] = []  # when each answer began
    held_after_calls: list[tuple[int, ...]] = []

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 20
            while engine.snapshot().tick < 0:
                assert time.monotonic() < deadline, "the engine never ticked"
                await pilot.pause(0.02)
            p = peer(
                "--send-to", "livegen in", "--record-from", "livegen out",
                "--notes-file", notes_file, "--linger", str(LINGER),
                "--duration", str(seconds + LINGER + 20),
            )  # fmt: skip
            phase = engine.snapshot().phase
            end = time.monotonic() + seconds + LINGER - 1
            while time.monotonic() < end:
                snap = engine.snapshot()
                if snap.phase == "answering" and phase != "answering":
                    answers.append(time.monotonic())
                    held_after_calls.append(snap.held)
                phase = snap.phase
                await pilot.pause(0.02)
            snap = engine.snapshot()
            await pilot.press("q")
            return p, snap

    p, snap = asyncio.run(scenario())
    report = p.wait(timeout=LINGER + 30)
    final = engine.snapshot()
    assert engine.error is None and not engine.running
    got = note_events(report["received"])
    print(
        f"\n{CALLS} chorale calls, other core busy: {len(answers)} answered, "
        f"late ticks {snap.late_ticks}, step p99 {snap.step_p99_us:.0f} us, "
        f"{sum(e[1] == 'on' for e in got)} notes from livegen"
    )
    assert len(answers) == CALLS, f"{len(answers)} of {CALLS} calls answered"
    assert all(held == () for held in held_after_calls), held_after_calls
    assert snap.held == ()
    assert hanging(got) == set(), "notes left sounding"
    assert final.open_notes == ()
