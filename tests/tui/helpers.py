"""Helpers for the panel's tests: a fake engine client, a fixed model list, ticking from a pilot.

The panel is a client of an engine in another process (livegen/client.py). Its tests do not
start one: :class:`FakeEngineClient` has the client's surface (``submit``, ``snapshot``,
``start``, ``close``, ``wait``, ``running``, ``error``, ``hello``) and applies the commands
it was sent when the test makes it tick, the way the engine applies them at its next tick.
The real engine behind the real client is tested in tests/integration (test_panel.py,
test_boundary.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from typing import Any

from livegen.checkpoint import CheckpointError
from livegen.controls import Action, CcMap, Control, Do, Forget, Learn, MapCc, Set, SwitchModel
from livegen.errors import EngineError
from livegen.live_config import LiveConfig
from livegen.modes import Mode
from livegen.server import Hello
from livegen.snapshot import Snapshot
from livegen.tui.models import Catalog, ModelEntry, ModelInfo

# The fixed model list (target -> name, origin, info): two melody models, a performance one
# (another tick rate: the engine switches to it and renumbers the ticks) and an unreadable
# file.
MODELS = {
    "tiny_a": ("tiny_a_melody", "shipped", ModelInfo("melody", 4, 9_452, 41_233, 2.314, 0.3125)),
    "tiny_b": ("tiny_b_melody", "user", ModelInfo("melody", 4, 9_452, 41_233, 2.207, 0.335)),
    "tiny_perf": (
        "tiny_performance",
        "user",
        ModelInfo("performance", 12, 21_608, 90_411, 3.9, 0.2),
    ),
    "broken": ("broken", "file", ModelInfo(error="broken.pt: not a PyTorch file, or corrupt")),
}
LOST = "MIDI port lost: livegen out disappeared mid-session (notes were ended where possible)"


def tiny_catalog() -> Catalog:
    """The fixed model list, already described."""
    entries = [ModelEntry(name, target, origin) for target, (name, origin, _) in MODELS.items()]
    catalog = Catalog(entries, describe=lambda target: MODELS[target][2])
    for entry in entries:
        catalog.describe(entry)
    return catalog


class FakeEngineClient:
    """A fake of :class:`livegen.client.EngineClient`: no process, no model, no ports.

    ``submit`` checks and queues a command and returns its sequence number; :meth:`tick`
    applies the queued commands and advances the tick, as the engine does at the start of a
    tick; ``snapshot()`` is what a real client would have been pushed. :meth:`lose_port`
    and :meth:`die` play the two ways a session fails: the engine loop stops with an error
    (its process lives on), or the engine's process is gone.
    """

    def __init__(self, ports: Any = None, **cfg: Any) -> None:
        target = cfg.pop("checkpoint", "tiny_a")
        if target not in MODELS or target == "broken":
            raise CheckpointError(f"{target}.pt: not a PyTorch file, or truncated or corrupt")
        c = LiveConfig(**{"response_bars": 1, **cfg})
        self.hello = Hello(
            pid=0,
            model_path=f"/models/{target}.pt",
            codec="melody(ticks_per_quarter=4, low=48, high=84)",
            ports=ports,
            ports_text="FakePorts()",
            notices=(),
        )
        self._snap = Snapshot(
            model=MODELS[target][0],
            codec="melody",
            step_path="fake",
            mode=c.mode,
            phase="listening",
            bpm=c.bpm,
            temperature=c.temperature,
            response_bars=c.response_bars,
            channel=c.channel,
            key=c.key,
            passthrough=c.passthrough,
            cc_map=CcMap(c.cc).pairs(),
        )
        self.cc = CcMap(c.cc)  # the real CC map: what the engine does with a CC, minus a tick
        self.commands: list[Any] = []  # every command submitted, in order
        self._pending: list[tuple[int, Any]] = []
        self._seq = itertools.count(1)
        self.panics = 0
        self.started = False
        self.closed = False
        self.notes_off = 0  # times every note was ended (stop, panic, close)
        self.gone: str | None = None  # the process died: submit raises this
        self.vanished: set[str] = set()  # models whose file is gone: the switch worker's notice

    # ---- the client's surface -------------------------------------------------------------
    def submit(self, command: Any) -> int:
        if self.gone:
            raise EngineError(self.gone)
        assert isinstance(command, Set | Do | SwitchModel | Learn | Forget | MapCc), command
        seq = next(self._seq)
        self.commands.append(command)
        self._pending.append((seq, command))
        return seq

    def snapshot(self) -> Snapshot:
        return self._snap

    def start(self) -> None:
        self.started = True
        self._publish(running=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.notes_off += 1
            self._publish(running=False, open_notes=())

    def wait(self, timeout: float | None = None) -> bool:
        return not self.running

    @property
    def running(self) -> bool:
        return self._snap.running

    @property
    def error(self) -> str | None:
        return self._snap.error

    # ---- what a test does ---------------------------------------------------------------
    def tick(self, n: int = 1) -> None:
        """``n`` ticks: the first applies every command sent since the last one."""
        for _ in range(n):
            if not self._snap.running:
                return
            pending, self._pending = self._pending, []
            for seq, command in pending:
                self._apply(command)
                self._publish(applied=seq)
            self._publish(tick=self._snap.tick + 1)

    def play_note(self, pitch: int = 62) -> None:
        """livegen answers: one of its notes sounds."""
        self._publish(phase="answering", open_notes=((self._snap.channel, pitch),))

    def move_cc(self, number: int, value: int) -> None:
        """The musician moves a knob (a CC arrives): learnt, or applied as its command."""
        result = self.cc.command(number, value)
        if isinstance(result, str):
            self._notice(result)
        elif result is not None:
            self._apply(result)
        self._publish(learning=self.cc.learning, cc_map=self.cc.pairs())

    def show_model(self, name: str, roles: Any) -> None:
        """The engine switched in model ``name``: the snapshot says so, with its parts."""
        self._publish(model=name, roles=roles)
        self._notice(f"switched to {name}")

    def lose_port(self) -> None:
        self._publish(running=False, error=LOST, open_notes=())

    def die(self) -> None:
        self.gone = "the engine stopped: its process was killed (SIGKILL)"
        self._publish(running=False, error=self.gone)

    # ---- the engine's side, as much as the panel sees ---------------------------------------
    def _apply(self, command: Any) -> None:
        if isinstance(command, Set):
            value = command.value
            if command.control is Control.MODE:
                value = Mode(value).value
            self._publish(**{command.control.value: value})
        elif isinstance(command, SwitchModel):
            name, _, info = MODELS[command.target]
            if command.target in self.vanished:  # as switch.Switcher words a failed load
                self._notice(f"cannot switch model: /models/{command.target}.pt: no such file")
            else:  # any grid: the engine renumbers the session's ticks (switch.Regrid)
                self._publish(model=name, ticks_per_quarter=info.ticks_per_quarter)
                self._notice(f"switched to {name}")
        elif isinstance(command, Do):
            self._act(command.action)
        elif isinstance(command, Learn):
            self.cc.learn(command.control)
        elif isinstance(command, Forget | MapCc):
            self.cc.change(command)
        self._publish(learning=self.cc.learning, cc_map=self.cc.pairs())

    def _act(self, action: Action) -> None:
        if action is Action.PANIC:
            self.panics += 1
            self.notes_off += 1
            self._publish(open_notes=())
            self._notice("panic: all notes off")
        elif action is Action.RESET:
            self._notice("state reset")
        elif action is Action.STOP:
            self.notes_off += 1
            self._publish(playing=False, phase="stopped", open_notes=())
        elif action is Action.PLAY:
            self._publish(playing=True, phase="listening")
        elif action in (Action.END_CALL, Action.REGENERATE):
            self._publish(phase="answering")

    def _notice(self, text: str) -> None:
        snap = self._snap
        self._publish(notices=(*snap.notices, text)[-6:], notice_count=snap.notice_count + 1)

    def _publish(self, **changes: Any) -> None:
        self._snap = dataclasses.replace(self._snap, **changes)


def run(coro) -> None:
    """Run a pilot scenario (the suite has no async plugin)."""
    asyncio.run(coro)


async def ticks(pilot, engine: FakeEngineClient, n: int = 1) -> None:
    """Let the fake engine tick ``n`` times (applying what was asked), then let the panel read."""
    await pilot.pause(0.01)
    engine.tick(n)
    await pilot.pause(0.01)
    app = pilot.app
    app.refresh_panel()
    await pilot.pause(0.01)


async def until(pilot, predicate, what: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
