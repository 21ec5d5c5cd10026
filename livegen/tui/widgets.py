"""The panel's widgets. Each draws from one :class:`~livegen.snapshot.Snapshot` and holds no
engine reference: the app hands them the latest snapshot a few times a second. The piano
roll is in :mod:`livegen.tui.roll`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Static

from livegen.roles import Roles
from livegen.snapshot import Snapshot
from livegen.style import describe as describe_style
from livegen.tui.models import Catalog, ModelEntry, ModelInfo
from livegen.tui.roll import LIVEGEN, PLAYER, note_name

PHASE_COLOURS = {
    "listening": "green",
    "answering": LIVEGEN,
    "accompanying": LIVEGEN,
    "playing": LIVEGEN,
    "stopped": "red",
}


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
        if snap.link_peers is not None:
            clock = f"link {snap.link_peers} peer{'' if snap.link_peers == 1 else 's'}"
        t.append("tempo  ", style="bold")
        t.append(f"{snap.bpm:5.1f} BPM", style="bold")
        t.append(f"  bar {snap.position():<6} {clock}\n")
        t.append("mode   ", style="bold")
        t.append(f"{snap.mode:<10}")
        t.append(f"▸ {snap.phase}", style=f"bold {PHASE_COLOURS.get(snap.phase, 'white')}")
        if not snap.playing and snap.phase != "stopped":
            t.append("  (stopped)", style="red")
        t.append("\n")
        # A style model has one stream (styles and parts do not mix): its line is the style.
        t.append_text(style_line(snap) if snap.styles else parts_line(snap.roles))
        t.append("\n")
        t.append("temp   ", style="bold")
        t.append(f"{snap.temperature:4.2f}  {_gauge(snap.temperature, 2.0)}\n")
        bars = snap.response_bars
        answer = "as long as the call" if bars == 0 else f"{bars:g} bar{'s' if bars != 1 else ''}"
        t.append("answer ", style="bold")
        t.append(answer)
        if snap.recording is not None:  # one line for the take: beside the answer length
            t.append(f"{'':{max(1, 14 - len(answer))}}")
            t.append(*recording_state(snap))
        t.append("\n")
        t.append("key    ", style="bold")
        t.append(f"{snap.key or 'off':<14}")
        t.append("channel ", style="bold")
        t.append(f"{snap.channel + 1:<3}")
        t.append(" thru ", style="bold")
        t.append("on" if snap.passthrough else "off")
        self.update(t)


def style_line(snap: Snapshot) -> Text:
    """A style model's style and mix: ``style  70% folk + 30% fiddle  (B fiddle)``."""
    t = Text()
    t.append("style  ", style="bold")
    t.append(describe_style(snap.styles, snap.style, snap.style_b, snap.style_mix), style="bold")
    if snap.style_b != snap.style and 0.0 < snap.style_mix < 1.0:
        return t
    b = snap.styles[snap.style_b] if snap.style_b < len(snap.styles) else "?"
    t.append(f"  (of {len(snap.styles)}; B {b} at {snap.style_mix:.0%})", style="dim")
    return t


def parts_line(roles: Roles) -> Text:
    """Whose part is whose, in the piano roll's colours: ``you: soprano · livegen: alto``."""
    line = roles.line()
    if roles.shared:
        return Text(line, style="dim")
    t = Text(line, no_wrap=True)
    mid = line.find(" · livegen:")
    t.stylize(f"bold {PLAYER}", 0, len("you:"))
    if mid >= 0:  # a name cut short by the box's width may have taken the livegen half
        t.stylize(f"bold {LIVEGEN}", mid + 3, mid + len(" · livegen:"))
    return t


def recording_state(snap: Snapshot) -> tuple[str, str]:
    """The Session box's word on the recording (nothing until a take began), and its style."""
    rec = snap.recording
    if rec is None:
        return "", ""
    name = Path(rec.path).name
    name = name if len(name) <= 14 else name[:13] + "…"
    if rec.active:
        return f"● rec {name} {rec.events}", "bold red"
    return f"saved {name}", "dim"


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


def describe_row(entry: ModelEntry, info: ModelInfo | None, mark: str = " ") -> tuple[str, ...]:
    """The model list's cells for one model (its info may still be loading)."""
    name = f"{mark} {entry.name}"
    if info is None:
        return (name, "…", "", "", "", "", entry.origin, "")
    if info.error:
        return (name, "unreadable", "", "", "", "", entry.origin, "")
    codec = info.codec
    params = _count(info.parameters)
    size = _size(info.file_size)
    nll = "" if info.val_nll is None else f"{info.val_nll:.3f}"
    acc = "" if info.val_acc is None else f"{info.val_acc * 100:.1f}%"
    parts = info.roles.listing() if info.roles is not None else ""
    return (name, codec, params, size, nll, acc, entry.origin, parts)


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

    # The parts come last: the figures stay in view, and the highlighted model's parts are
    # also under the box (its subtitle), where a narrow terminal still shows them.
    COLUMNS = ("model", "codec", "params", "size", "NLL", "acc", "from", "parts")

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
        if self.highlighted() == entry:
            self._say_parts(entry)

    def highlighted(self) -> ModelEntry | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return self.catalog.find(str(key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        entry = self.catalog.find(str(event.row_key.value))
        if entry is not None:
            self._say_parts(entry)

    def _say_parts(self, entry: ModelEntry) -> None:
        """The highlighted model's parts under the list: ``parts: you soprano / livegen ...``."""
        info = self.catalog.info(entry)
        roles = info.roles if info is not None else None
        subtitle = f"parts: {roles.listing()}" if roles is not None else ""
        if info is not None and info.styles:
            subtitle += f" · styles: {', '.join(info.styles)}"
        self.border_subtitle = subtitle

    def mark(self, current: str, pending: str = "") -> None:
        """``▶`` on the model playing, ``…`` on one being switched to."""
        if (current, pending) == (self.current, self.pending):
            return
        self.current, self.pending = current, pending
        for entry in self.catalog.entries:
            self.update_cell(entry.target, "model", self._cells(entry)[0], update_width=True)
