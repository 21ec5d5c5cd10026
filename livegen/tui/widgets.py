"""The panel's widgets. Each draws from one :class:`~livegen.snapshot.Snapshot` and holds no
engine reference: the app hands them the latest snapshot a few times a second.

The piano roll is a text grid of half blocks: each cell shows two pitches (upper and lower
half), so a 20-row widget holds 40 semitones; the player's notes and livegen's have one
colour each, and a note's first cell is brighter, so repeated notes stay apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable, Static

from livegen.snapshot import NoteSpan, Snapshot
from livegen.tui.models import Catalog, ModelEntry, ModelInfo

PLAYER = "#5fafff"  # the musician's notes ("in")
PLAYER_ONSET = "#afd7ff"
LIVEGEN = "#ffaf00"  # livegen's notes ("out")
LIVEGEN_ONSET = "#ffd787"
BOTH = "#ffffff"
GRID = "#3a3a3a"
GRID_STYLE = Style(color=GRID)
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PHASE_COLOURS = {
    "listening": "green",
    "answering": LIVEGEN,
    "accompanying": LIVEGEN,
    "playing": LIVEGEN,
    "stopped": "red",
}


def note_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def ports_state(snap: Snapshot) -> tuple[str, str]:
    """A word for the ports' state and its colour."""
    if snap.error:
        return "lost", "red"
    if snap.running:
        return "open", "green"
    return ("closed", "red") if snap.tick >= 0 else ("not started", "yellow")


def last_heard(snap: Snapshot) -> str:
    """When the player was last heard, from the piano roll's notes."""
    starts = [s for s in snap.recent if s.source == "in"]
    if not starts:
        return "nothing heard yet"
    if any(s.end is None for s in starts):
        return "playing now"
    quarters = (snap.tick - max(s.end or s.start for s in starts)) / snap.ticks_per_quarter
    return f"heard {quarters / snap.beats_per_bar:.1f} bars ago"


class SessionInfo(Static):
    """Ports, clock, tempo, position, mode and phase, and the settings that shape the answer."""

    def __init__(self, ports_lines: Iterable[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.ports_lines = list(ports_lines)

    def show(self, snap: Snapshot) -> None:
        state, colour = ports_state(snap)
        t = Text()
        for i, line in enumerate(self.ports_lines):
            t.append(line)
            if i == 0:
                t.append("  ● " + state, style=colour)
            t.append("\n")
        t.append(f"{'':7}{last_heard(snap)}\n", style="dim")
        clock = "internal" if snap.clock == "internal" else "MIDI clock"
        t.append("tempo  ", style="bold")
        t.append(f"{snap.bpm:5.1f} BPM", style="bold")
        t.append(f"  bar {snap.position():<6} {clock}\n")
        t.append("mode   ", style="bold")
        t.append(f"{snap.mode:<10}")
        t.append(f"▸ {snap.phase}", style=f"bold {PHASE_COLOURS.get(snap.phase, 'white')}")
        if not snap.playing and snap.phase != "stopped":
            t.append("  (stopped)", style="red")
        t.append("\n")
        t.append("temp   ", style="bold")
        t.append(f"{snap.temperature:4.2f}  {_gauge(snap.temperature, 2.0)}\n")
        bars = snap.response_bars
        answer = "as long as the call" if bars == 0 else f"{bars:g} bar{'s' if bars != 1 else ''}"
        t.append("answer ", style="bold")
        t.append(f"{answer}\n")
        t.append("key    ", style="bold")
        t.append(f"{snap.key or 'off':<14}")
        t.append("channel ", style="bold")
        t.append(f"{snap.channel + 1:<3}")
        t.append(" thru ", style="bold")
        t.append("on" if snap.passthrough else "off")
        self.update(t)


def _gauge(value: float, full: float, width: int = 12) -> str:
    filled = max(0, min(width, round(value / full * width)))
    return "▮" * filled + "▯" * (width - filled)


class Timing(Static):
    """Step latency, late ticks, lost input, open notes: is the session keeping time?"""

    def show(self, snap: Snapshot) -> None:
        t = Text()
        t.append("step   ", style="bold")
        t.append(f"p50 {snap.step_p50_us / 1000:.2f} ms  p99 {snap.step_p99_us / 1000:.2f} ms")
        t.append(f"  ({snap.step_path or '?'})", style="dim")
        if snap.osc_ignored:  # listening for OSC: its commands, and the messages it ignored
            t.append(f"  osc {snap.osc_received}, {sum(n for _, n in snap.osc_ignored)} ignored")
        t.append("\n")
        t.append("ticks  ", style="bold")
        t.append(f"{max(snap.tick + 1, 0)}  ")
        t.append(f"late {snap.late_ticks}", style="red" if snap.late_ticks else "")
        t.append("  dropped input ")
        t.append(str(snap.dropped_input), style="red" if snap.dropped_input else "")
        t.append(f"  ignored {snap.ignored_input}  send errors {snap.send_errors}\n")
        t.append("open   ", style="bold")
        if snap.open_notes:
            names = " ".join(note_name(p) for _, p in sorted(snap.open_notes, key=lambda c: c[1]))
            t.append(f"{len(snap.open_notes)}: {names}")
        else:
            t.append("no notes sounding", style="dim")
        self.update(t)


class NoticeLine(Static):
    """The latest notice, in one line (all of them also go to ``App.notify``)."""

    def say(self, text: str, error: bool = False) -> None:
        self.set_class(error, "error")
        self.update(Text(text, no_wrap=True, overflow="ellipsis"))


class PianoRoll(Widget):
    """The last bars of the session: the player's notes and livegen's, pitch by tick."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.snap: Snapshot | None = None

    def show(self, snap: Snapshot) -> None:
        old = self.snap
        self.snap = snap
        if old is None or (old.tick, old.recent) != (snap.tick, snap.recent):
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
    # Whole bars, the current one last (from bar 1 until the roll is full).
    first = max(0, (now // ticks_per_bar - bars + 1) * ticks_per_bar)
    cells, low, high = _cells(snap.recent, first, now, per_col, cols)

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
    """A half-block cell for the upper and lower pitch's flags (one of them is set)."""
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


IN, OUT, IN_ONSET, OUT_ONSET = 1, 2, 4, 8


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


def _colour(flags: int) -> str:
    if flags & IN and flags & OUT:
        return BOTH
    if flags & IN:
        return PLAYER_ONSET if flags & IN_ONSET else PLAYER
    return LIVEGEN_ONSET if flags & OUT_ONSET else LIVEGEN


def describe_row(entry: ModelEntry, info: ModelInfo | None, mark: str = " ") -> tuple[str, ...]:
    """The model list's cells for one model (its info may still be loading)."""
    name = f"{mark} {entry.name}"
    if info is None:
        return (name, "…", "", "", "", "", entry.origin)
    if info.error:
        return (name, "unreadable", "", "", "", "", entry.origin)
    codec = info.codec
    params = _count(info.parameters)
    size = _size(info.file_size)
    nll = "" if info.val_nll is None else f"{info.val_nll:.3f}"
    acc = "" if info.val_acc is None else f"{info.val_acc * 100:.1f}%"
    return (name, codec, params, size, nll, acc, entry.origin)


def _count(n: int | None) -> str:
    if n is None:
        return ""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 1000:
        return f"{n / 1e3:.1f} k"
    return str(n)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MiB"
    return f"{n / 1024:.0f} KiB"


class ModelTable(DataTable):
    """The models: select one and press enter to switch to it (``▶`` marks the one playing)."""

    COLUMNS = ("model", "codec", "params", "size", "NLL", "acc", "from")

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.catalog = catalog
        self.current = ""
        self.pending = ""  # a switch asked for and not yet done

    def on_mount(self) -> None:
        for name in self.COLUMNS:
            self.add_column(name, key=name)
        for entry in self.catalog.entries:
            self.add_row(*self._cells(entry), key=entry.target)

    def _cells(self, entry: ModelEntry) -> tuple[str, ...]:
        sign = "▶" if entry.name == self.current else ("…" if entry.name == self.pending else " ")
        return describe_row(entry, self.catalog.info(entry), sign)

    def show_info(self, entry: ModelEntry) -> None:
        for name, value in zip(self.COLUMNS, self._cells(entry), strict=True):
            self.update_cell(entry.target, name, value, update_width=True)

    def mark(self, current: str, pending: str = "") -> None:
        """``▶`` on the model playing, ``…`` on one being switched to."""
        if (current, pending) == (self.current, self.pending):
            return
        self.current, self.pending = current, pending
        for entry in self.catalog.entries:
            self.update_cell(entry.target, "model", self._cells(entry)[0], update_width=True)
