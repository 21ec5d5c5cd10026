"""The Textual control panel: controls a live session from the keyboard.

The engine runs in a process of its own (:mod:`livegen.server`); the panel holds a client
of it (:class:`livegen.client.EngineClient`, or a fake in the tests), started on mount and
closed on unmount, which ends every note. It reads ``engine.snapshot()`` a few times a
second and changes the session only by submitting commands (:mod:`livegen.controls`),
which act at the next tick. The two share no interpreter, so no redraw, no model
description and no bug here can delay a tick.

Build it with :func:`livegen.tui.launch.make_app` (the CLI and the tests both do), which
opens the session; :func:`livegen.tui.launch.run_panel` runs it and closes the session
with all notes off whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Label

from livegen.controls import Control, SwitchModel
from livegen.snapshot import Snapshot
from livegen.tui import keys
from livegen.tui.actions import ControlActions
from livegen.tui.learn import LearnScreen
from livegen.tui.models import Catalog, ModelEntry
from livegen.tui.presets import PresetScreen, apply_preset
from livegen.tui.roll import PianoRoll, legend
from livegen.tui.state import model_reference, save_state
from livegen.tui.widgets import ModelTable, NoticeLine, SessionInfo, Timing

POLL = 0.2  # seconds between snapshot reads: 5 redraws a second is plenty to read
BACKENDS = {"alsa": "ALSA", "jack": "JACK", "coremidi": "CoreMIDI", "windows": "Windows MM"}


class ModelDescribed(Message):
    """A model's checkpoint summary is known (posted from the describing thread)."""

    def __init__(self, entry: ModelEntry) -> None:
        super().__init__()
        self.entry = entry


class LivegenApp(ControlActions, App[int]):
    """The panel around one engine client; build it with ``launch.make_app``.

    ``engine`` has the surface of :class:`livegen.client.EngineClient`: ``submit``,
    ``snapshot``, ``start``, ``close``, ``running``, ``error`` and ``hello``.
    """

    CSS_PATH = "livegen.tcss"
    TITLE = "livegen"
    COMMANDS = App.COMMANDS | {keys.LivegenCommands}
    BINDINGS = [
        *keys.bindings(),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(
        self,
        engine: Any,
        catalog: Catalog,
        *,
        settings_path: Path,
        notices: list[str] | None = None,
        start_engine: bool = True,
        snapshot_source: Callable[[], Snapshot] | None = None,
        poll: float = POLL,
        remembered: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.catalog = catalog
        self.settings_path = settings_path
        self.start_engine = start_engine
        self.read_snapshot = snapshot_source or self.engine.snapshot
        self.poll_every = poll
        self.startup_notices = [*(notices or []), *engine.hello.notices]
        self.notices: list[str] = []  # everything shown on the notice line, in order
        self.snap = self.read_snapshot()
        self._seen_notices = self.snap.notice_count
        self._error_shown = False
        self._wanted: dict[str, tuple[Any, int]] = {}  # asked for (value, seq), not yet applied
        self._session_closed = False
        self._signals: list[int] = []
        self.save_error: str | None = None  # the remembered settings could not be written
        # The CC map is remembered once it was (or is) changed, else live.yaml's stays in charge.
        self._cc = self.snap.cc_map
        self._cc_remembered = "cc" in (remembered or {})
        self._roles = self.snap.roles  # the parts the roll's legend names

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept as attributes: the timer also fires while the help screen or the palette is up,
        # and App.query_one would search those screens.
        self.session_info = SessionInfo(self._ports_lines(), id="session")
        self.models = ModelTable(self.catalog, id="models")
        self.roll = PianoRoll(id="roll")
        self.timing = Timing(id="timing")
        self.fields = {
            "temperature": Input(id="temperature", placeholder="e.g. 0.8", select_on_focus=True),
            "key": Input(id="key", placeholder="off (e.g. D dorian)", select_on_focus=True),
        }
        self.notice_line = NoticeLine(id="notice")
        yield Header(icon="♪")
        with Horizontal(id="top"):
            yield self.session_info
            yield self.models
        yield self.roll
        with Horizontal(id="bottom"):
            yield self.timing
            with Vertical(id="controls"):
                for name, label in (("temperature", "temperature"), ("key", "key lock")):
                    with Horizontal(classes="field"):
                        yield Label(label, classes="field-label")
                        yield self.fields[name]
        yield self.notice_line
        yield Footer()

    def _ports_lines(self) -> list[str]:
        hello = self.engine.hello
        info = hello.ports
        if info is None:
            return [f"ports  {self.snap.ports or hello.ports_text}"]
        how = "virtual" if info.virtual else "named"
        where = BACKENDS.get(info.backend, info.backend)
        if info.jack_server:
            where += f" server {info.jack_server!r}"
        return [
            f"in     {info.in_full or info.in_name}",
            f"out    {info.out_full or info.out_name}",
            f"       {how}, {where}",
        ]

    def on_mount(self) -> None:
        self.session_info.border_title = "Session"
        self.models.border_title = "Models"
        self.timing.border_title = "Timing"
        self.query_one("#controls").border_title = "Set"
        self.roll.border_title = legend(self.snap.roles)
        self.models.focus()
        if not self.is_headless:
            self._catch_signals()
        if self.start_engine and not self.engine.running:
            self.engine.start()
        for notice in self.startup_notices:
            self.say(notice)
        self.refresh_panel(force=True)
        self.set_interval(self.poll_every, self.refresh_panel)
        self.run_worker(self._describe_models, thread=True, exit_on_error=False, group="models")

    def _catch_signals(self) -> None:
        """SIGTERM / SIGHUP (terminal closed) quit like ``q``: through unmount, notes off."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.exit)
                self._signals.append(sig)

    def on_unmount(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Close the session (every note off), remember the settings; safe to call again."""
        if self._session_closed:
            return
        self._session_closed = True
        try:
            self.engine.close()
        finally:
            with contextlib.suppress(Exception):
                loop = asyncio.get_running_loop()
                for sig in self._signals:
                    loop.remove_signal_handler(sig)
            self._remember()

    def _handle_exception(self, error: Exception) -> None:
        # A bug in the panel: end every note before Textual shows the traceback and exits.
        with contextlib.suppress(Exception):
            self.shutdown()
        super()._handle_exception(error)

    def _remember(self) -> None:
        snap = self.engine.snapshot()
        entry = self.catalog.find(snap.model)
        target = entry.target if entry else self.engine.hello.model_path
        notice = save_state(
            self.settings_path,
            {
                "checkpoint": model_reference(target),
                "temperature": snap.temperature,
                "mode": snap.mode,
                "cc": dict(snap.cc_map) if self._cc_remembered else None,
            },
        )
        if notice:
            self.save_error = notice

    # ---- reading the engine -------------------------------------------------------------
    def refresh_panel(self, force: bool = False) -> None:
        snap = self.read_snapshot()
        if snap is self.snap and not force:
            return
        self.snap = snap
        self.session_info.show(snap)
        self.timing.show(snap)
        self.roll.show(snap)
        if snap.roles != self._roles:  # a model switch: the legend names the new parts
            self._roles = snap.roles
            self.roll.border_title = legend(snap.roles)
        self.sub_title = snap.model
        if isinstance(self.screen, LearnScreen):
            self.screen.show(snap)
        if snap.cc_map != self._cc:  # learnt, forgotten or a preset's: remembered at once
            self._cc, self._cc_remembered = snap.cc_map, True
            self._remember()
        table = self.models
        fresh = min(snap.notice_count - self._seen_notices, len(snap.notices))
        self._seen_notices = snap.notice_count
        for notice in snap.notices[len(snap.notices) - fresh :] if fresh > 0 else ():
            if notice.startswith("cannot switch model"):
                table.mark(table.current, "")
            self.say(notice, warning=notice.startswith(("cannot", "nothing")))
        table.mark(snap.model, "" if table.pending == snap.model else table.pending)
        if snap.error and not self._error_shown:
            self._error_shown = True
            self.say(f"{snap.error}; q quits", error=True)
        for field, value in (
            ("temperature", f"{snap.temperature:.2f}"),
            ("key", snap.key or ""),
        ):
            box = self.fields[field]
            if not box.has_focus and box.value != value:
                box.value = value

    def say(
        self, text: str, *, warning: bool = False, error: bool = False, toast: bool = True
    ) -> None:
        """A notice: on the notice line, and as a toast unless it only confirms a key."""
        self.notices.append(text)
        self.notice_line.say(text, error=error or warning)
        if toast or warning or error:
            severity = "error" if error else "warning" if warning else "information"
            self.notify(text, severity=severity, timeout=10 if error else 4)

    def _describe_models(self) -> None:
        """Worker thread: summarise each model once, current one first."""
        entries = sorted(self.catalog.entries, key=lambda e: e.name != self.snap.model)
        for entry in entries:
            if self.catalog.info(entry) is None:
                self.catalog.describe(entry)
            self.post_message(ModelDescribed(entry))

    def on_model_described(self, message: ModelDescribed) -> None:
        self.models.show_info(message.entry)

    # ---- screens and fields -------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, keys.HelpScreen):
            self.push_screen(keys.HelpScreen(self.snap.cc_map))

    def action_learn(self) -> None:
        if not isinstance(self.screen, LearnScreen):
            self.push_screen(LearnScreen(self.snap, self._submit))

    def action_presets(self) -> None:
        if not isinstance(self.screen, PresetScreen):
            self.push_screen(PresetScreen(self.choose_preset))

    def choose_preset(self, name: str, preset: Any) -> None:
        text, warning = apply_preset(name, preset, self.read_snapshot(), self._submit)
        self.say(text, warning=warning)

    def action_edit(self, field: str) -> None:
        (self.models if field == "models" else self.fields[field]).focus()

    def action_leave_field(self) -> None:
        if isinstance(self.focused, Input):
            self.models.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if event.input.id == "temperature":
            try:
                value = float(text)
            except ValueError:
                self.say(f"temperature must be a number, not {text!r}", warning=True)
                return
            self._set(Control.TEMPERATURE, value)  # out of LIMITS: a notice
        elif event.input.id == "key" and self._set(Control.KEY, text or None):
            self.say(f"key lock: {text}" if text else "key lock off", toast=False)
        self.models.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        entry = self.catalog.find(str(event.row_key.value))
        if entry is not None:
            self.switch_model(entry)

    def switch_model(self, entry: ModelEntry) -> None:
        """Ask the engine to load, warm and switch in ``entry``; it says when it is done."""
        table = self.models
        if entry.name == self.snap.model:
            self.say(f"{entry.name} is playing already", toast=False)
            return
        info = self.catalog.info(entry)
        if info is not None and info.error:
            self.say(f"cannot switch model: {info.error}", warning=True)
            return
        if self._submit(lambda: SwitchModel(entry.target)) is None:
            return
        table.mark(self.snap.model, entry.name)
        self.say(f"switching to {entry.name}: warming it on the last bars…")
