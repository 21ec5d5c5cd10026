"""MIDI learn from the panel: choose a control, press enter, move a knob or press a pad.

:class:`LearnScreen` lists every control a CC can drive (:data:`livegen.controls.CC_CONTROLS`)
with the CC mapped to it now, read from the snapshot's ``cc_map``. Enter sends
``Learn(control)``: the engine maps the next CC it hears, at the tick it hears it, so the
mapping acts at once; delete sends ``Forget(control)``. The screen only submits commands and
shows snapshots; the app remembers the map with the user's settings when it changes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from livegen.controls import CC_CONTROLS, CC_RANGES, Forget, Learn
from livegen.snapshot import Snapshot

CONTINUOUS = {c.value for c in CC_RANGES}
HINT = Text("enter: learn the selected control   delete: forget its CC", style="dim")


def what(control: str) -> str:
    """How a CC drives ``control``: across a range, or as a button."""
    if control in CONTINUOUS:
        return "knob or fader: follows the value"
    return "pad or button: fires on the press"


class LearnScreen(ModalScreen[None]):
    """Every learnable control and its CC; enter learns, delete forgets, escape closes."""

    BINDINGS = [  # enter is the table's: a selected row learns
        Binding("delete,backspace", "forget", "Forget"),
        Binding("escape,L", "close", "Close"),
    ]

    def __init__(self, snap: Snapshot, submit: Any) -> None:
        super().__init__()
        self.snap = snap
        self.submit = submit  # the app's: a function making a command -> seq, or None
        self.asked: str | None = None  # the control this screen asked to learn
        self.ready = False  # the table has its rows (the app may call show before)
        self.message: str | Text | None = None  # what the last key did
        self.waited = False  # the engine has been seen learning what this screen asked for

    def compose(self) -> ComposeResult:
        self.table = DataTable(id="learn-table", cursor_type="row", zebra_stripes=False)
        self.status = Static(id="learn-status")
        with Vertical(id="learn"):
            yield Static(Text("MIDI learn  (escape closes)", style="bold"), id="learn-title")
            yield self.table
            yield self.status

    def on_mount(self) -> None:
        for name in ("control", "CC", "how"):
            self.table.add_column(name, key=name)
        for control in CC_CONTROLS:
            self.table.add_row(control, "", what(control), key=control)
        self.table.focus()
        self.ready = True
        self.show(self.snap)

    def show(self, snap: Snapshot) -> None:
        """Redraw from the latest snapshot (the app calls this at every read)."""
        self.snap = snap
        if not self.ready:
            return
        mapped = dict(snap.cc_map)
        for control in CC_CONTROLS:
            number = mapped.get(control)
            shown = "…move one" if snap.learning == control else "" if number is None else number
            self.table.update_cell(control, "CC", str(shown))
        if snap.learning is not None:
            self.waited = self.waited or snap.learning == self.asked
            self.status.update(
                Text(
                    f"learning {snap.learning}: move a knob or press a pad on your controller",
                    style="bold #ffaf00",
                )
            )
            return
        if self.waited and self.asked in mapped:  # the learn it asked for is done
            self.message = f"CC {mapped[self.asked]} now controls {self.asked}"
            self.asked, self.waited = None, False
        # The last thing said stays until the next key: a redraw must not wipe it.
        self.status.update(self.message or HINT)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the app's model list takes a selected row as a model to switch to
        self.action_learn()

    def selected(self) -> str:
        return CC_CONTROLS[self.table.cursor_row]

    def action_learn(self) -> None:
        control = self.selected()
        if self.submit(lambda: Learn(control)) is not None:
            self.asked, self.waited = control, False
            self.say(Text(f"learning {control}: move a knob or press a pad", "bold"))

    def action_forget(self) -> None:
        control = self.selected()
        if control not in dict(self.snap.cc_map):
            self.say(Text(f"{control} has no CC to forget", style="dim"))
            return
        if self.submit(lambda: Forget(control)) is not None:
            self.say(f"{control}: its CC is forgotten at the next tick")

    def say(self, message: str | Text) -> None:
        self.message = message
        self.status.update(message)

    def action_close(self) -> None:
        if self.snap.learning is not None or self.asked is not None:
            # A learn left waiting (or still on its way) would take the next CC the musician
            # moves, unasked; after a learn that finished, this changes nothing.
            self.submit(lambda: Learn(None))
        self.dismiss()
