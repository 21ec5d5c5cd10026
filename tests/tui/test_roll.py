"""The piano roll's drawing from a Snapshot, without an app: both parts, and livegen's plan."""

from __future__ import annotations

from livegen.snapshot import NoteSpan, Snapshot
from livegen.tui.roll import (
    LIVEGEN,
    LIVEGEN_ONSET,
    PLANNED,
    PLAYER,
    PLAYER_ONSET,
    legend,
    note_name,
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


def test_the_plan_is_drawn_ahead_of_the_play_line_in_its_own_shade_and_glyph():
    # E4 sounds from tick 5 (livegen's); the plan: G4 and C5 at the next tick, 10.
    snap = Snapshot(tick=9, recent=(NoteSpan(64, 5, None, "out"),), plan=((10, (67, 72)),))
    text = render_roll(snap, width=4 + 64, height=12)
    lines = text.plain.split("\n")
    planned = [(r, c) for r, line in enumerate(lines) for c, ch in enumerate(line) if ch in "▔▁█"]
    assert {c for _, c in planned} == {4 + 10}  # one column right of now, nowhere else
    assert len(planned) == 2  # G4 and C5 are far apart: two cells
    assert all(colours_at(text, r, c) == (PLANNED, None) for r, c in planned)
    assert PLANNED not in (LIVEGEN, LIVEGEN_ONSET)
    # What sounded keeps its half blocks, up to now.
    sounded = [c for line in lines[1:] for c, ch in enumerate(line) if ch in "▀▄"]
    assert sounded and max(sounded) == 4 + 9
    # The pitch range holds the plan: C5 (72) has its label.
    assert any(line.startswith("C5") for line in lines)
    assert "next" in legend() and PLANNED in legend()


def test_a_plan_in_the_next_bar_moves_the_roll_on_to_show_it():
    # Now is bar 2's last tick; the plan is for bar 3's first.
    snap = Snapshot(tick=31, recent=(NoteSpan(60, 28, None, "out"),), plan=((32, (62,)),))
    text = render_roll(snap, width=4 + 16 * 2, height=10)
    assert text.plain.split("\n")[0].split() == ["2", "3"]  # the plan's bar is the last
    assert "▔" in text.plain or "▁" in text.plain
    without = render_roll(Snapshot(tick=31, recent=snap.recent), width=4 + 16 * 2, height=10)
    assert without.plain.split("\n")[0].split() == ["1", "2"]
    assert not any(ch in without.plain for ch in "▔▁")


def test_a_plan_alone_is_drawn_and_a_stale_plan_is_not():
    text = render_roll(Snapshot(tick=7, plan=((8, (60,)),)), width=40, height=10)
    assert "silence" not in text.plain and ("▔" in text.plain or "▁" in text.plain)
    stale = render_roll(Snapshot(tick=8, plan=((8, (60,)),)), width=40, height=10)
    assert "silence" in stale.plain  # planned for a tick that is now: not ahead any more
