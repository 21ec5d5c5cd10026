"""Every control of the panel, once: its keys, its action, its help line.

The app's bindings, the help screen (``?``) and the command palette (ctrl+p) are all made
from :data:`CONTROLS`, so none of them can forget a control or disagree about a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from livegen import controls

# What +/- move by, from the one table of limits (which also clamps them).
TEMPERATURE_STEP = controls.LIMITS[controls.Control.TEMPERATURE].step
TEMPO_STEP = controls.LIMITS[controls.Control.BPM].step
MIX_STEP = controls.LIMITS[controls.Control.STYLE_MIX].step


@dataclass(frozen=True)
class Control:
    keys: str  # Textual key names, comma-separated
    shown: str  # the keys as the help screen writes them
    action: str  # an action of LivegenApp, with arguments
    label: str  # short: the footer and the command palette
    help: str  # one line for the help screen
    footer: bool = False


CONTROLS: tuple[Control, ...] = (
    Control("question_mark,f1", "? F1", "help", "Help", "this screen: every key", True),
    Control("space", "space", "toggle", "Start/stop", "stop answering (notes end) / start", True),
    Control("p", "p", "panic", "Panic", "all notes off now, on every channel", True),
    Control(
        "m", "m", "cycle_mode", "Mode", "next mode: continue, accompany, harmonize, free", True
    ),
    Control(
        "right_square_bracket",
        "]",
        f"temperature({TEMPERATURE_STEP})",
        "Temp+",
        f"temperature up {TEMPERATURE_STEP}",
        True,
    ),
    Control(
        "left_square_bracket",
        "[",
        f"temperature({-TEMPERATURE_STEP})",
        "Temp-",
        f"temperature down {TEMPERATURE_STEP}",
        True,
    ),
    Control("t", "t", "edit('temperature')", "Type temperature", "type a temperature, enter"),
    Control(
        "plus,equals_sign", "+ =", f"tempo({TEMPO_STEP})", "Tempo+", f"tempo up {TEMPO_STEP:g} BPM"
    ),
    Control("minus", "-", f"tempo({-TEMPO_STEP})", "Tempo-", f"tempo down {TEMPO_STEP:g} BPM"),
    Control("l", "l", "edit('models')", "Models", "model list: arrows pick, enter switches", True),
    Control("e", "e", "end_call", "End call", "end of the call: answer now (continue mode)"),
    Control("g", "g", "regenerate", "Regenerate", "answer the last call again, differently"),
    Control("r", "r", "reset", "Reset state", "clear the model's memory of the session"),
    Control("B", "B", "response(1)", "Longer answer", "answer one bar longer"),
    Control("b", "b", "response(-1)", "Shorter answer", "answer one bar shorter (0: as the call)"),
    Control("C", "C", "channel(1)", "Channel+", "output channel up (1..16)"),
    Control("c", "c", "channel(-1)", "Channel-", "output channel down"),
    Control("x", "x", "passthrough", "Pass-through", "echo your notes to the output, on/off"),
    Control(
        "R", "R", "record", "Record", "record the session into a MIDI file / stop (--record FILE)"
    ),
    Control("k", "k", "edit('key')", "Key lock", "type a key lock (e.g. D dorian; empty: off)"),
    Control("s", "s", "style('style')", "Next style", "style models: the next style (style A)"),
    Control(
        "S", "S", "style('style_b')", "Next style B", "style models: the next style B to mix in"
    ),
    Control(
        "greater_than_sign",
        ">",
        f"style_mix({MIX_STEP})",
        "Mix+",
        f"style models: {MIX_STEP:.0%} more of style B",
    ),
    Control(
        "less_than_sign",
        "<",
        f"style_mix({-MIX_STEP})",
        "Mix-",
        f"style models: {MIX_STEP:.0%} less of style B",
    ),
    Control("L", "L", "learn", "MIDI learn", "MIDI learn: pick a control, enter, move a knob"),
    Control("P", "P", "presets", "Presets", "presets: pick one, enter applies it live"),
    Control("q,ctrl+q,ctrl+c", "q ^q ^c", "quit", "Quit", "quit: every note ends first", True),
)

OTHER_KEYS = (
    ("tab", "next field: model list, temperature, key lock"),
    ("enter", "model list: switch to the selected model; a field: apply"),
    ("escape", "leave a field (the value is not applied)"),
    ("ctrl+p", "command palette: every control by name"),
)


def bindings() -> list[Binding]:
    return [
        Binding(c.keys, c.action, c.label, show=c.footer, key_display=c.shown.split()[0])
        for c in CONTROLS
    ]


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold #ffaf00", no_wrap=True)
    table.add_column()
    for c in CONTROLS:
        table.add_row(c.shown, c.help)
    for key, text in OTHER_KEYS:
        table.add_row(key, text)
    return table


def cc_table(cc_map: tuple[tuple[str, int], ...]) -> Table | Text:
    """The session's CC map, by CC number (``L`` changes it)."""
    if not cc_map:
        return Text("\nno MIDI CCs mapped: L learns one", style="dim")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold #ffaf00", no_wrap=True)
    table.add_column()
    for number, name in sorted((num, name) for name, num in cc_map):
        table.add_row(f"CC {number}", name)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, from :data:`CONTROLS`, and the MIDI CCs mapped now."""

    BINDINGS = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close"),
    ]

    def __init__(self, cc_map: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__()
        self.cc_map = cc_map

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text("livegen: keys  (escape closes)", style="bold"), id="help-title")
            yield Static(help_table())
            yield Static(Text("\nMIDI controls (L: learn, forget)", style="bold"))
            yield Static(cc_table(self.cc_map))
            yield Static(
                Text(
                    "\nControls act at the next tick. Settings come from configs/live.yaml and "
                    "the command line; the last model, temperature, mode and CC map are "
                    "remembered. P chooses a preset.",
                    style="dim",
                )
            )


class LivegenCommands(Provider):
    """The command palette's entries: every control, and one per model to switch to."""

    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        out: list[tuple[str, object, str]] = [
            (c.label, partial(app.run_action, c.action), c.help) for c in CONTROLS
        ]
        catalog = getattr(app, "catalog", None)
        for entry in catalog.entries if catalog is not None else ():
            out.append(
                (
                    f"Switch model: {entry.name}",
                    partial(app.switch_model, entry),
                    f"warm {entry.name} on the last bars, then let it play ({entry.origin})",
                )
            )
        return out

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)
