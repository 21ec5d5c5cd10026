"""The piano roll: the last bars of the session, the player's notes and livegen's, and what
livegen plans to play next, drawn from one :class:`~livegen.snapshot.Snapshot`.

It is a text grid of half blocks: each cell shows two pitches (upper and lower half), so a
20-row widget holds 40 semitones; the player's notes and livegen's have one colour each, and
a note's first cell is brighter, so repeated notes stay apart. Right of the play line, in a
dim shade of livegen's colour, are the notes it has planned for the coming tick (the
snapshot's ``plan``): livegen computes tick n + 1 right after tick n, so that is what it is
about to play, not what sounded.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from livegen.roles import ONE_STREAM, Roles
from livegen.snapshot import NoteSpan, Snapshot

PLAYER = "#5fafff"  # the musician's notes ("in")
PLAYER_ONSET = "#afd7ff"
LIVEGEN = "#ffaf00"  # livegen's notes ("out")
LIVEGEN_ONSET = "#ffd787"
PLANNED = "#875f00"  # livegen's plan for the coming tick: its colour, dimmed
BOTH = "#ffffff"
GRID = "#3a3a3a"
GRID_STYLE = Style(color=GRID)
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def legend(roles: Roles = ONE_STREAM) -> str:
    """The roll's title with its colours (Textual markup), naming the parts of a parts model."""
    yours, mine = (f": {escape(name)}" if name else "" for name in roles.names())
    return (
        f"Piano roll  [{PLAYER}]■[/] you{yours}  [{LIVEGEN}]■[/] livegen{mine}"
        f"  [{PLANNED}]■[/] next"
    )


class PianoRoll(Widget):
    """The last bars of the session: the player's notes and livegen's, pitch by tick."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.snap: Snapshot | None = None

    def show(self, snap: Snapshot) -> None:
        old = self.snap
        self.snap = snap
        if old is None or (old.tick, old.recent, old.plan) != (snap.tick, snap.recent, snap.plan):
            self.refresh()

    def render(self) -> Text:
        snap = self.snap
        width, height = self.size.width, self.size.height
        if snap is None or width < 12 or height < 2:
            return Text("")
        return render_roll(snap, width, height)


def render_roll(snap: Snapshot, width: int, height: int) -> Text:
    """The grid as text: a ruler line, then ``height - 1`` rows of two pitches each."""
    gutter = 4
    tpq, bpb = snap.ticks_per_quarter, snap.beats_per_bar
    per_col = max(1, -(-tpq // 4))  # a column is a 16th note at most
    ticks_per_bar = tpq * bpb
    cols_per_bar = -(-ticks_per_bar // per_col)
    bars = max(1, (width - gutter) // cols_per_bar)
    cols = bars * cols_per_bar
    now = max(snap.tick, 0)
    # Whole bars, the one of the plan's last note (or now) last, from bar 1 until it is full.
    edge = max([now, *(t for t, _ in snap.plan)])
    first = max(0, (edge // ticks_per_bar - bars + 1) * ticks_per_bar)
    cells, low, high = _cells(snap.recent, first, now, per_col, cols)
    low, high = _plan_cells(cells, snap.plan, first, now, per_col, cols, low, high)

    out = Text(no_wrap=True, overflow="crop")
    ruler = [" "] * (gutter + cols)
    for b in range(bars):
        label = str((first + b * ticks_per_bar) // ticks_per_bar + 1)
        at = gutter + b * cols_per_bar
        ruler[at : at + len(label)] = label
    out.append("".join(ruler[: gutter + cols]), style="dim")
    out.append("\n")
    rows = height - 1
    if not cells:
        out.append(" " * gutter + "silence: play into livegen's input", style="dim")
        return out
    low, high = low - 1, high + 1  # a semitone of air
    short = 12 - (high - low + 1)  # at least an octave, so one note is not a full-height bar
    if short > 0:
        low, high = low - short // 2, high + short - short // 2
    low, top = max(low, 0), min(high, 127)
    n_rows = min(rows, (top - low + 2) // 2)  # the lowest pitches go when the range is wider
    now_col = (now - first) // per_col
    # The empty grid of one row: bar lines, beat dots, nothing right of now.
    blank = []
    for c in range(cols):
        t = first + c * per_col
        if c > now_col:
            blank.append((" ", None))
        elif t % ticks_per_bar == 0:
            blank.append(("│", GRID_STYLE))
        elif t % tpq == 0:
            blank.append(("·", GRID_STYLE))
        else:
            blank.append((" ", None))
    columns: dict[int, set[int]] = {}  # pitch -> the columns where it sounds
    for p, c in cells:
        columns.setdefault(p, set()).add(c)
    for r in range(n_rows):
        hi, lo = top - 2 * r, top - 2 * r - 1
        label = next((note_name(p) for p in (hi, lo) if p % 12 == 0 and p >= 0), "")
        out.append(f"{label:<{gutter}}", style="dim")
        row = list(blank)
        for c in columns.get(hi, set()) | columns.get(lo, set()):
            row[c] = _cell(cells.get((hi, c), 0), cells.get((lo, c), 0))
        _append_runs(out, row)
        if r < n_rows - 1:
            out.append("\n")
    return out


def _append_runs(out: Text, row: list[tuple[str, Style | None]]) -> None:
    """Append a row's cells, one span per run of one style (rich is slow per cell)."""
    run: list[str] = []
    style: Style | None = None
    for char, cell_style in row:
        if cell_style is not style and run:
            out.append("".join(run), style=style)
            run = []
        style = cell_style
        run.append(char)
    if run:
        out.append("".join(run), style=style)


def _cell(up: int, down: int) -> tuple[str, Style]:
    """A half-block cell for the upper and lower pitch's flags (one of them is set).

    A cell of planned notes only takes thin bars (another glyph as well as another shade),
    so what livegen is about to play cannot be mistaken for what sounded.
    """
    if not (up | down) & ~PLAN:
        if up and down:
            return "█", _style(PLANNED)
        return ("▔", _style(PLANNED)) if up else ("▁", _style(PLANNED))
    if up and down:
        cu, cd = _colour(up), _colour(down)
        if cu == cd:
            return "█", _style(cu)
        return "▀", _style(cu, cd)
    if up:
        return "▀", _style(_colour(up))
    return "▄", _style(_colour(down))


_STYLES: dict[tuple[str, str | None], Style] = {}


def _style(colour: str, background: str | None = None) -> Style:
    style = _STYLES.get((colour, background))
    if style is None:
        style = _STYLES[(colour, background)] = Style(color=colour, bgcolor=background)
    return style


IN, OUT, IN_ONSET, OUT_ONSET, PLAN = 1, 2, 4, 8, 16


def _cells(
    spans: Iterable[NoteSpan], first: int, now: int, per_col: int, cols: int
) -> tuple[dict[tuple[int, int], int], int, int]:
    """``{(pitch, column): flags}`` for the notes within ``first..now``, and the pitch range."""
    cells: dict[tuple[int, int], int] = {}
    low, high = 128, -1
    for s in spans:
        end = now + 1 if s.end is None else min(s.end, now + 1)
        start = max(s.start, first)
        if end <= start or start > now:
            continue
        low, high = min(low, s.pitch), max(high, s.pitch)
        body, onset = (IN, IN_ONSET) if s.source == "in" else (OUT, OUT_ONSET)
        for c in range((start - first) // per_col, min(cols, -(-(end - first) // per_col))):
            cells[(s.pitch, c)] = cells.get((s.pitch, c), 0) | body
        if s.start >= first:
            key = (s.pitch, (s.start - first) // per_col)
            cells[key] = cells.get(key, 0) | onset
    return cells, low, high


def _plan_cells(
    cells: dict[tuple[int, int], int],
    plan: Iterable[tuple[int, tuple[int, ...]]],
    first: int,
    now: int,
    per_col: int,
    cols: int,
    low: int,
    high: int,
) -> tuple[int, int]:
    """Flag livegen's planned onsets (after ``now``) in ``cells``; the widened pitch range."""
    for tick, pitches in plan:
        column = (tick - first) // per_col
        if tick <= now or not 0 <= column < cols:
            continue
        for p in pitches:
            low, high = min(low, p), max(high, p)
            cells[(p, column)] = cells.get((p, column), 0) | PLAN
    return low, high


def _colour(flags: int) -> str:
    if flags & IN and flags & OUT:
        return BOTH
    if flags & IN:
        return PLAYER_ONSET if flags & IN_ONSET else PLAYER
    if not flags & OUT:
        return PLANNED
    return LIVEGEN_ONSET if flags & OUT_ONSET else LIVEGEN
