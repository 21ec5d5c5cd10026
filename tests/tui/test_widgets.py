"""The widgets' drawing from a Snapshot, without an app: the session's state and the model rows.
The piano roll: test_roll.py."""

from __future__ import annotations

from livegen.snapshot import NoteSpan, Snapshot
from livegen.tui.models import ModelEntry, ModelInfo
from livegen.tui.widgets import describe_row, last_heard, ports_state


def test_ports_state_and_last_heard():
    assert ports_state(Snapshot(running=True)) == ("open", "green")
    assert ports_state(Snapshot(running=False, error="MIDI port lost")) == ("lost", "red")
    assert ports_state(Snapshot(running=False, tick=5))[0] == "closed"
    assert last_heard(Snapshot(tick=10)) == "nothing heard yet"
    assert last_heard(Snapshot(tick=10, recent=(NoteSpan(60, 8, None, "in"),))) == "playing now"
    snap = Snapshot(tick=40, recent=(NoteSpan(60, 0, 8, "in"),))
    assert last_heard(snap) == "heard 2.0 bars ago"


def test_model_rows():
    entry = ModelEntry("folk_melody", "/x/folk_melody.pt", "shipped")
    info = ModelInfo("melody", 4, 868_612, 3_479_298, 0.8651, 0.7213, "nats")
    assert describe_row(entry, info, "▶") == (
        "▶ folk_melody",
        "melody",
        "868.6 k",
        "3.3 MiB",
        "0.865",
        "72.1%",
        "shipped",
        "",  # parts: unknown in this hand-made info
    )
    assert describe_row(entry, None)[1] == "…"
    assert describe_row(entry, ModelInfo(error="bad"))[1] == "unreadable"


def test_the_session_box_names_the_take_only_once_one_began():
    from livegen.recording import RecordState
    from livegen.tui.widgets import recording_state

    assert recording_state(Snapshot()) == ("", "")
    live = Snapshot(recording=RecordState("/tmp/takes/a-very-long-take-name.mid", 42, True))
    text, style = recording_state(live)
    assert text == "● rec a-very-long-t… 42" and "red" in style
    done = Snapshot(recording=RecordState("/tmp/take.mid", 42, False))
    assert recording_state(done)[0] == "saved take.mid"
