"""The panel's preset chooser: every preset (shipped and the user's), enter applies one live.

A preset applies as the commands :meth:`livegen.presets.Preset.commands` makes (a model
switch when it names another model, ``Set`` for each control, the CC map as ``Forget`` and
``MapCc``), all submitted together so they act at the same tick. A preset that cannot be
used (broken YAML, an unknown key) is listed with its one-line error; choosing it is a
notice, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from livegen import presets
from livegen.controls import Command
from livegen.presets import Preset
from livegen.snapshot import Snapshot

Choose = Callable[[str, Preset | str], None]  # the app applies the chosen preset, or says why not
Submit = Callable[[Callable[[], Command]], int | None]  # the app's: make, submit; None if refused


def apply_preset(
    name: str, preset: Preset | str, snap: Snapshot, submit: Submit
) -> tuple[str, bool]:
    """Submit what applies ``preset`` to the session in ``snap``; the notice, and whether it
    is a warning. Every command is made before the first is sent, so a preset whose value
    is refused sends nothing."""
    if isinstance(preset, str):
        return f"preset {name} not applied: {preset}", True
    try:
        commands = preset.commands(snap.model, snap.cc_map)
    except ValueError as err:
        return f"preset {name} not applied: {err}", True
    if not commands:
        return f"preset {name}: the session is set so already", False
    for command in commands:
        if submit(lambda c=command: c) is None:
            return f"preset {name}: only partly applied (the engine refused a command)", True
    return f"preset {name}: {sets(preset)} (at the next tick)", False


def sets(preset: Preset | str) -> str:
    """What a preset sets, in a few words, or why it cannot be used."""
    if isinstance(preset, str):
        return "cannot be used: see the notice"
    return ", ".join("cc map" if k == "cc" else k for k in preset.given) or "nothing"


class PresetScreen(ModalScreen[None]):
    """The presets; enter applies the selected one, escape closes."""

    BINDINGS = [Binding("escape,P", "dismiss", "Close")]  # enter is the table's: it applies

    def __init__(self, choose: Choose) -> None:
        super().__init__()
        self.choose = choose
        self.found = presets.load_all()  # small files, read once when the list opens

    def compose(self) -> ComposeResult:
        self.table = DataTable(id="preset-table", cursor_type="row", zebra_stripes=False)
        with Vertical(id="presets"):
            yield Static(Text("Presets  (enter applies, escape closes)", style="bold"))
            yield self.table
            yield Static(
                Text(
                    f"shipped in configs/presets/; yours in {presets.user_folder()}",
                    style="dim",
                )
            )

    def on_mount(self) -> None:
        for name in ("preset", "about", "sets"):
            self.table.add_column(name, key=name)
        for name, preset in self.found:
            about = preset.description if isinstance(preset, Preset) else "unreadable"
            self.table.add_row(name, about, sets(preset), key=name)
        if not self.found:
            self.table.add_row("(none)", "no presets found", "", key="")
        self.table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the app's model list takes a selected row as a model to switch to
        self.action_choose()

    def action_choose(self) -> None:
        if not self.found:
            return
        name, preset = self.found[self.table.cursor_row]
        self.dismiss()
        self.choose(name, preset)
