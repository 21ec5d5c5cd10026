"""Screenshots of the panel compared with the accepted ones in ``__snapshots__/``.

The picture must not depend on timing: the (fake) engine is not started and the panel reads
a fixed, hand-made Snapshot (a call, livegen's answer under way, fixed latencies), with the
fixed model list. After a deliberate change of the layout, look at the new pictures and
accept them with ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest

from livegen.midi_io import PortInfo
from livegen.snapshot import NoteSpan, Snapshot
from livegen.tui.launch import make_app
from tests.tui.helpers import FakeEngineClient, tiny_catalog

SIZE = (120, 40)

# Four bars of a session at tick 75: the player's call (bars 2-3), livegen's answer (bar 4 on).
CALL = [(62, 16, 20), (64, 20, 22), (66, 22, 24), (67, 24, 28), (69, 28, 32), (71, 32, 34)]
CALL += [(69, 34, 36), (67, 36, 40), (64, 40, 44), (67, 40, 44), (62, 44, 48)]
ANSWER = [(66, 56, 60), (67, 60, 62), (69, 62, 64), (74, 64, 68), (72, 68, 70), (71, 70, 72)]
ANSWER += [(69, 72, None), (62, 72, None)]
RECENT = tuple(NoteSpan(p, s, e, "in") for p, s, e in CALL) + tuple(
    NoteSpan(p, s, e, "out") for p, s, e in ANSWER
)
JACK_PORTS = PortInfo(
    "jack",
    True,
    "livegen in",
    "livegen out",
    "livegen-in:livegen in",
    "livegen-out:livegen out",
    jack_server="livegen",
)


STILL = Snapshot(
    running=True,
    phase="answering",
    mode="continue",
    tick=75,
    bpm=112.0,
    temperature=0.8,
    model="tiny_a_melody",
    codec="melody(ticks_per_quarter=4, low=48, high=84)",
    step_path="cpu-fused-fp32",
    response_bars=2.0,
    key="G major",
    step_p50_us=212.0,
    step_p99_us=486.0,
    open_notes=((0, 62), (0, 69)),
    recent=RECENT,
    plan=((76, (71, 74)),),  # livegen's next notes, drawn ahead of the play line
    cc_map=(("panic", 22), ("temperature", 21)),
    ports="Ports(virtual 'livegen in' -> 'livegen out' on JACK)",
)


@pytest.fixture
def still_panel():
    """The panel on a session that does not tick, showing :data:`STILL`."""
    apps = []

    def make():
        def factory(remembered):
            return FakeEngineClient(ports=JACK_PORTS)

        app = make_app(
            factory, catalog=tiny_catalog(), start_engine=False, snapshot_source=lambda: STILL
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()


def test_main_screen(snap_compare, still_panel):
    assert snap_compare(still_panel(), terminal_size=SIZE)


def test_help_screen(snap_compare, still_panel):
    assert snap_compare(still_panel(), press=["question_mark"], terminal_size=SIZE)


def test_model_list_during_a_switch(snap_compare, still_panel):
    """The cursor moved to the second model and enter pressed: ``…`` marks the switch."""
    assert snap_compare(still_panel(), press=["l", "down", "enter"], terminal_size=SIZE)


def test_learn_screen(snap_compare, still_panel):
    """The MIDI learn list with the CCs mapped now; the cursor on the second control."""
    assert snap_compare(still_panel(), press=["L", "down"], terminal_size=SIZE)
