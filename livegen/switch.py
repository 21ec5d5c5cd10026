"""The session's history as notes, and switching the model live: load, warm, catch up.

:class:`History` keeps what sounded in the last bars (yours and livegen's, exactly what the
model's state took in) as notes timed in quarter notes, not as tokens, so a model of
another codec or tick grid can be warmed on it. :func:`ticks_between` lays a stretch of it
out on any grid.

:class:`Switcher` owns one worker thread: it loads the requested model, builds its Player
and warms it on the history, so no tick waits for any of that. The engine takes the
prepared Player at the start of a tick (:meth:`Switcher.take`), catches it up on what
sounded while it warmed (:func:`catch_up`), and hands it the session. A model of another
tick grid takes over at a tick both grids share; :class:`Regrid` then says how every tick
the session holds is renumbered.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from livegen.notes import Tick

WARM_BARS = 8  # a new model hears the session's last bars before it takes over
_EPS = 1e-9


class History:
    """What sounded in the last ``horizon`` quarter notes, as notes; written by the tick thread.

    ``record(n, tick)`` takes tick ``n`` of the session's current grid; the worker thread
    reads a copy with :meth:`view`.
    """

    def __init__(self, ticks_per_quarter: int, horizon: float) -> None:
        self.ticks_per_quarter = ticks_per_quarter
        self.horizon = horizon
        self.end = 0.0  # quarters: everything before this has been recorded
        self._notes: deque[list] = deque()  # [pitch, start, end or None, velocity]
        self._open: dict[int, list] = {}
        self._lock = threading.Lock()

    def record(self, n: int, tick: Tick) -> None:
        tpq = self.ticks_per_quarter
        at = n / tpq
        with self._lock:
            opened = self._open
            for p in tick.offs:
                note = opened.pop(p, None)
                if note is not None:
                    note[2] = at
            for p, v in tick.ons:
                note = opened.pop(p, None)
                if note is not None:  # re-struck
                    note[2] = at
                note = [p, at, None, v]
                opened[p] = note
                self._notes.append(note)
            self.end = (n + 1) / tpq
            notes, start = self._notes, self.end - self.horizon
            while notes and notes[0][2] is not None and notes[0][2] < start:
                notes.popleft()

    def regrid(self, regrid: Regrid) -> None:
        """The session's ticks are now ``regrid.new`` a quarter (notes are timed in quarters:
        nothing recorded moves)."""
        with self._lock:
            self.ticks_per_quarter = regrid.new

    def view(self) -> tuple[list[tuple[int, float, float | None, int]], float]:
        """A copy of the notes and the time recorded up to."""
        with self._lock:
            return [tuple(n) for n in self._notes], self.end


@dataclass(frozen=True, slots=True)
class Regrid:
    """Tick ``n`` of a grid of ``old`` ticks per quarter is tick ``m`` of a grid of ``new``.

    A switch to a model of another grid renumbers every tick the session holds: the clock,
    the scheduler, the piano roll, the history and the modes each take this value in their
    ``regrid``. Called, it maps a tick to the new grid's line at or before it; :meth:`later`
    to the line at or after it, for events that must not move earlier.
    """

    n: int
    old: int
    new: int

    @property
    def m(self) -> int:
        return self.n * self.new // self.old

    @property
    def exact(self) -> bool:
        """Whether tick ``n`` lies on a line of both grids (a switch waits for one that does)."""
        return self.n * self.new % self.old == 0

    def __call__(self, t: int) -> int:
        return self.m + (t - self.n) * self.new // self.old

    def later(self, t: int) -> int:
        return self.m + -(-(t - self.n) * self.new // self.old)

    def length(self, ticks: int) -> int:
        """A span of ``ticks`` old ticks, in new ticks."""
        return ticks * self.new // self.old


def ticks_between(notes, a: float, b: float, tpq: int, *, sounding_at_a: bool) -> list[Tick]:
    """The ticks of grid ``tpq`` from time ``a`` to ``b`` (quarters, on that grid's lines).

    A note strikes at the first tick at or after its start and ends at the first at or after
    its end (at least one tick later). ``sounding_at_a``: notes struck before ``a`` and still
    sounding are struck at ``a`` (the first stretch a model hears); otherwise the model heard
    them strike already, and only their releases are in this stretch.
    """
    ka, kb = _tick(a, tpq), _tick(b, tpq)
    offs: list[set[int]] = [set() for _ in range(max(0, kb - ka))]
    ons: list[dict[int, int]] = [{} for _ in range(max(0, kb - ka))]
    for pitch, start, end, velocity in notes:
        ks = _tick(start, tpq)
        ke = None if end is None else max(_tick(end, tpq), ks + 1)
        if ks < ka:
            if not sounding_at_a or (ke is not None and ke <= ka):
                if ke is not None and ka <= ke < kb:
                    offs[ke - ka].add(pitch)
                continue
            ks = ka
        if ks >= kb:
            continue
        ons[ks - ka][pitch] = velocity
        if ke is not None and ke < kb:
            offs[ke - ka].add(pitch)
    return [
        Tick(tuple(sorted(f)), tuple(sorted(o.items()))) for f, o in zip(offs, ons, strict=True)
    ]


def _tick(t: float, tpq: int) -> int:
    return math.ceil(t * tpq - _EPS)


def on_grid(t: float, tpq: int) -> float:
    """The latest line of grid ``tpq`` at or before ``t``."""
    return math.floor(t * tpq + _EPS) / tpq


def warm(player: Any, ticks: list[Tick], first: int) -> None:
    """Step ``player`` over ``ticks`` as heard, planning nothing; the first is tick ``first``.

    Numbered as the session counts them on the player's grid, so a metric model hears
    each at its place in the bar.
    """
    with torch.inference_mode():
        for i, tick in enumerate(ticks):
            player.step(tick, play=False, tick=first + i)


@dataclass
class Prepared:
    """A model loaded and warmed by the worker: it has heard the session up to ``upto``."""

    loaded: Any
    player: Any
    upto: float  # quarters

    def regrid(self, n: int, ticks_per_quarter: int) -> Regrid:
        """How tick ``n`` of the session's grid renumbers when this model takes over there."""
        return Regrid(n, ticks_per_quarter, self.loaded.codec.ticks_per_quarter)


def catch_up(prepared: Prepared, history: History, now: float) -> None:
    """Step the prepared Player over what sounded from ``prepared.upto`` until ``now``."""
    notes, _ = history.view()
    tpq = prepared.loaded.codec.ticks_per_quarter
    ticks = ticks_between(notes, prepared.upto, now, tpq, sounding_at_a=False)
    warm(prepared.player, ticks, round(prepared.upto * tpq))
    prepared.upto = now


def install(prepared: Prepared, history: History, n: int, tpq: int, parts, voice) -> tuple:
    """Catch ``prepared`` up to tick ``n`` and give it livegen's ``voice`` (voice.py).

    A model of another grid renumbers every tick the session holds, from here on: each of
    ``parts`` (clock, scheduler, piano roll, history, modes) takes the :class:`Regrid`.
    Returns the regrid (``m`` is tick ``n``'s new number) and the old model's plan, which
    sounds at this very tick (the new Player hears it as part of the tick).
    """
    regrid = prepared.regrid(n, tpq)
    catch_up(prepared, history, n / tpq)
    if regrid.new != regrid.old:
        for part in parts:
            part.regrid(regrid)
    return regrid, voice.hand_over(prepared.player, regrid.m)


class Switcher:
    """One worker thread that loads and warms the models asked for, one at a time.

    ``build(loaded)`` makes a Player for a loaded checkpoint; ``loader(name)`` loads one by
    name or path. The engine calls :meth:`request` when a switch is asked for and
    :meth:`take` at the start of every tick.
    """

    def __init__(
        self,
        history: History,
        build: Callable[[Any], Any],
        loader: Callable[[str], Any] | None = None,
    ) -> None:
        self.history = history
        self.build = build
        self.loader = loader
        self._asked: queue.Queue[Any] = queue.Queue()
        self._ready: deque[Prepared | str] = deque()
        self._thread: threading.Thread | None = None

    def request(self, target: Any) -> None:
        self._asked.put(target)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="livegen-switch", daemon=True)
            self._thread.start()

    def take(self, n: int, ticks_per_quarter: int) -> Prepared | str | None:
        """A warmed model that can take over at tick ``n`` of the session's grid, a notice (why
        a switch failed), or None. A model of another grid waits for a tick both grids share."""
        ready = self._ready
        if not ready:
            return None
        first = ready[0]
        if isinstance(first, Prepared) and not first.regrid(n, ticks_per_quarter).exact:
            return None
        return ready.popleft()

    def put_back(self, prepared: Prepared) -> None:
        """Hand in a model prepared outside the worker, as if it had just finished warming.

        The engine takes any prepared model at the next tick (another grid is installed at
        once, :func:`install` renumbers the ticks); tests use this to prepare a switch on the
        calling thread and choose the tick it lands on.
        """
        self._ready.appendleft(prepared)

    def close(self) -> None:
        if self._thread is not None:
            self._asked.put(None)

    def _work(self) -> None:
        from livegen.threads import limit_threads

        limit_threads(1)
        while (target := self._asked.get()) is not None:
            self.work_on(target)

    def work_on(self, target: Any) -> None:
        """Prepare ``target`` for :meth:`take` (the worker's loop body; tests call it)."""
        try:
            self._ready.append(self.prepare(target))
        except Exception as err:  # a bad model is a notice; the session goes on
            self._ready.append(f"cannot switch model: {_one_line(err)}")

    def prepare(self, target: Any) -> Prepared:
        """Load (a name or path), build and warm: the worker's job, callable directly."""
        if isinstance(target, str):
            if self.loader is None:
                raise ValueError("this engine cannot load models by name")
            loaded = self.loader(target)
        else:
            loaded = target
        player = self.build(loaded)
        tpq = loaded.codec.ticks_per_quarter
        notes, end = self.history.view()
        upto = on_grid(end, tpq)  # the catch-up starts on a line of the new grid
        start = on_grid(max(0.0, end - self.history.horizon), tpq)
        warm(player, ticks_between(notes, start, upto, tpq, sounding_at_a=True), round(start * tpq))
        return Prepared(loaded, player, upto)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
