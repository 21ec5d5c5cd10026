"""The widgets' drawing from a Snapshot, without an app: the piano roll grid and the rows."""

from __future__ import annotations

from livegen.snapshot import NoteSpan, Snapshot
from livegen.tui.models import ModelEntry, ModelInfo
from livegen.tui.widgets import (
    LIVEGEN,
    LIVEGEN_ONSET,
    PLAYER,
    PLAYER_ONSET,
    describe_row,
    last_heard,
    note_name,
    ports_state,
    render_roll,
)


def colours_at(text, row: int, col: int) -> tuple[str | None, str | None]:
    """(foreground, background) of the cell at ``row`` (0: the ruler), ``col`` of the text."""
    offset = sum(len(line) + 1 for line in text.plain.split("\n")[:row]) + col
    fg = bg = None
    for span in text.spans:
        if span.start <= offset < span.end and not isinstance(span.style, str):
            fg = span.style.color.name if span.style.color else fg
            bg = span.style.bgcolor.name if span.style.bgcolor else bg
    return fg, bg


def test_note_names():
    assert [note_name(p) for p in (21, 60, 61, 108)] == ["A0", "C4", "C#4", "C8"]


def test_roll_draws_the_players_notes_and_livegens_in_two_colours():
    snap = Snapshot(
        tick=9,
        recent=(
            NoteSpan(60, 0, 4, "in"),  # C4 for a quarter
            NoteSpan(64, 5, None, "out"),  # E4, still sounding
        ),
    )
    text = render_roll(snap, width=4 + 64, height=12)
    lines = text.plain.split("\n")
    assert lines[0].startswith("    1")  # the ruler: bar 1 at the left
    # Range: 59..65 padded to an octave, two pitches a row, highest first.
    assert len(lines) == 1 + 6
    c4 = next(i for i, line in enumerate(lines) if line.startswith("C4"))
    row = lines[c4]
    assert row[4:8] in ("▀▀▀▀", "▄▄▄▄")  # ticks 0..3 on C4's half of the row
    assert colours_at(text, c4, 4)[0] == PLAYER_ONSET
    assert colours_at(text, c4, 5)[0] == PLAYER
    e4 = [i for i, line in enumerate(lines) if "▀" in line[9:15] or "▄" in line[9:15]]
    assert len(e4) == 1
    # The sounding note reaches the current tick (9) and nothing is drawn after it.
    assert lines[e4[0]][4 + 5 : 4 + 10].strip("▀▄") == ""
    assert lines[e4[0]][4 + 10 :].strip(" ") == ""
    assert colours_at(text, e4[0], 4 + 5)[0] == LIVEGEN_ONSET
    assert colours_at(text, e4[0], 4 + 6)[0] == LIVEGEN


def test_roll_two_pitches_of_one_cell_keep_their_colours():
    # Three neighbours: whichever way the rows pair them, one cell holds both parts.
    recent = (NoteSpan(59, 0, 4, "out"), NoteSpan(60, 0, 4, "in"), NoteSpan(61, 0, 4, "out"))
    text = render_roll(Snapshot(tick=3, recent=recent), width=40, height=10)
    cells = {colours_at(text, row, 4 + 2) for row in range(1, len(text.plain.split("\n")))}
    assert (PLAYER, LIVEGEN) in cells or (LIVEGEN, PLAYER) in cells


def test_roll_scrolls_by_whole_bars_and_limits_rows_to_the_height():
    recent = tuple(NoteSpan(40 + k, 100 + k, 101 + k, "out") for k in range(48))
    snap = Snapshot(tick=150, recent=recent)
    text = render_roll(snap, width=4 + 16 * 3, height=8)
    lines = text.plain.split("\n")
    assert lines[0].split() == ["8", "9", "10"]  # tick 150 is in bar 10; three bars fit
    assert len(lines) == 8  # 7 rows of two pitches; the lowest ones do not fit
    # Pitches 75..88 fit (88 is the margin above the highest note, 87), one tick each.
    assert sum(ch in "▀▄█" for ch in text.plain) == 13


def test_roll_says_silence_with_no_notes():
    text = render_roll(Snapshot(tick=40), width=80, height=10)
    assert "silence" in text.plain


def test_wide_ticks_are_folded_into_sixteenth_columns():
    snap = Snapshot(tick=47, ticks_per_quarter=12, recent=(NoteSpan(60, 0, 12, "in"),))
    lines = render_roll(snap, width=4 + 16, height=10).plain.split("\n")
    c4 = next(line for line in lines if line.startswith("C4"))
    assert c4[4:8] in ("▀▀▀▀", "▄▄▄▄") and c4[8] not in "▀▄"  # a quarter is 4 columns


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
    )
    assert describe_row(entry, None)[1] == "…"
    assert describe_row(entry, ModelInfo(error="bad"))[1] == "unreadable"
