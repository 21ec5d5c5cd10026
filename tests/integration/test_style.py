"""The style knob live, through real JACK ports: the panel's keys and a controller's CCs
choose the style model's style and mix while it plays.

The engine runs ``style_poly`` in its own process (livegen/server.py) on the module's
private ``jackd -d dummy``; the panel runs under Textual's pilot in this process; one peer
process records ``livegen out``, a second one turns the knobs (raw CCs into ``livegen in``),
as a MIDI controller would. Checked: each change is in the snapshot at the tick that applied
it (a command from the panel at most two ticks after it was sent), notes keep flowing after
every change, and once stopped nothing is left sounding, judged from what the recording
peer received before the session closed. A run in which jackd logged an XRun (a dropped
cycle loses events in JACK itself) is made again, as the grid-switch tests do.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from livegen.client import EngineClient
from livegen.live_config import LiveConfig
from livegen.tui.launch import make_app
from livegen.tui.models import Catalog
from tests.integration.events import XRUN_TRIES, hanging, note_events, xruns

pytestmark = pytest.mark.jack

MIX_CC, NEXT_CC = 31, 32
CC = 0xB0  # control change, channel 1


def test_the_panel_and_a_controller_choose_the_style_live_through_jack(
    jack_server, peer, tmp_path, monkeypatch
):
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(tmp_path / "config"))
    for _ in range(XRUN_TRIES):  # a cycle jackd dropped voids the run (events.xruns)
        before = xruns(jack_server)
        engine, (first, applied, sent, mixed, marks, report) = one_session(peer, tmp_path)
        if xruns(jack_server) == before:
            break
    sent_at, late_at = sent
    assert first.styles == ("folk", "chorales", "fiddle") and first.style == 0
    # Applied at the tick after it arrived (the snapshot the panel saw may be a tick old); a
    # stalled engine skips the ticks it missed, so those count as passed too.
    skipped = applied.late_ticks - late_at
    assert applied.style == 1 and applied.tick - sent_at <= 2 + skipped, (sent_at, applied)
    # The pad stepped the style from chorales to fiddle, the knob mixed in style B (folk).
    assert (mixed.style, mixed.style_b, mixed.style_mix) == (2, 0, 0.5)
    assert engine.error is None and not engine.running

    got = note_events(report["received"])  # stamped on perf_counter, as the marks are
    ons = [t for t, kind, *_ in got if kind == "on"]
    # Notes flowed in every style: after the panel's change and after the knob's.
    assert [t for t in ons if marks["panel"][0] < t < marks["knob"][0]], (ons, marks)
    assert [t for t in ons if marks["knob"][0] < t < marks["stop"][0]], (ons, marks)
    assert hanging(got) == set(), hanging(got)


def one_session(peer, tmp_path):
    """The panel on a style_poly engine: its key, then the controller's pad and knob."""
    cc = {"style_mix": MIX_CC, "next_style": NEXT_CC}
    cfg = LiveConfig(
        checkpoint="style_poly", backend="jack", device="cpu", seed=2, mode="free", cc=cc
    )
    app = make_app(lambda remembered: EngineClient.open(cfg), catalog=Catalog([]))
    engine = app.engine
    submitted: list[tuple[int, int, int]] = []  # (tick and late ticks the panel saw, number)
    inner = engine.submit

    def submit(command):
        snap = engine.snapshot()
        seq = inner(command)
        submitted.append((snap.tick, snap.late_ticks, seq))
        return seq

    engine.submit = submit  # the panel's commands pass here
    knobs = tmp_path / "knobs.json"
    # A pad press and release (next style: fiddle), then the mix knob to the middle.
    rows = [[0.0, [CC, NEXT_CC, 127]], [0.1, [CC, NEXT_CC, 0]], [0.3, [CC, MIX_CC, 64]]]
    knobs.write_text(json.dumps(rows))

    async def wait(pilot, predicate, what: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while not predicate(engine.snapshot()):
            # What the panel said last (a refusal, a warning) tells a lost key from a slow one.
            said = list(app.notices)[-3:]
            assert time.monotonic() < deadline, f"timed out waiting for {what}; panel: {said}"
            await pilot.pause(0.02)
        return engine.snapshot()

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            rec = peer("--client", "rec", "--record-from", "livegen out", "--hold")
            first = await wait(pilot, lambda s: s.tick >= 8 and s.styles, "the first ticks")
            marks = {"start": (time.perf_counter(), first.tick)}
            await pilot.press("s")  # the panel: next style, chorales
            await wait(pilot, lambda s: submitted, "the panel to send it")
            sent_at, late_at, seq = submitted[0]
            applied = await wait(pilot, lambda s: s.applied >= seq, "the panel's style")
            marks["panel"] = (time.perf_counter(), applied.tick)
            await wait(pilot, lambda s: s.tick >= applied.tick + 16, "a bar in chorales")
            knob = peer("--client", "knob", "--send-to", "livegen in", "--events-file", str(knobs))
            mixed = await wait(pilot, lambda s: s.style_mix == 0.5, "the knob's mix")
            knob.wait()
            marks["knob"] = (time.perf_counter(), mixed.tick)
            await wait(pilot, lambda s: s.tick >= mixed.tick + 16, "a bar in the mix")
            await pilot.press("space")  # stop: every note livegen plays ends
            await wait(pilot, lambda s: not s.playing and not s.open_notes, "the stop")
            marks["stop"] = (time.perf_counter(), engine.snapshot().tick)
            await pilot.pause(0.2)  # a few JACK cycles: the note-offs reach the peer
            report = rec.quit(timeout=20)
            await pilot.press("q")
            return first, applied, (sent_at, late_at), mixed, marks, report

    return engine, asyncio.run(scenario())
