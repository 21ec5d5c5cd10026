"""The models the panel offers: shipped, the user's folders, and any file named at start.

Describing a model means loading its checkpoint (``checkpoint.summary`` needs the weights
for the parameter count), so each is described once, on demand, off the UI thread, and
the answer is kept. A file that cannot be read is listed with its one-line error. A model's
parts (yours and livegen's, or one stream) come from the codec spec the checkpoint carries
(livegen.roles), not from its weights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from livegen import checkpoint
from livegen.roles import Roles


@dataclass(frozen=True)
class ModelEntry:
    """One row of the model list."""

    name: str  # what the engine's snapshot calls it (the file's stem)
    target: str  # what ``Engine.switch_model`` is given: a name or a path
    origin: str  # "shipped", "user" (a models folder) or "file" (named on the command line)


@dataclass(frozen=True)
class ModelInfo:
    """What ``checkpoint.summary`` says about a model, ready to show."""

    codec: str = ""
    ticks_per_quarter: int | None = None
    parameters: int | None = None
    file_size: int | None = None  # bytes
    val_nll: float | None = None
    val_acc: float | None = None
    nll_unit: str | None = None
    error: str | None = None  # the file could not be used
    roles: Roles | None = None  # its parts, from the codec's params (livegen.roles)
    styles: tuple[str, ...] = ()  # a style model's styles (livegen.style)


def describe_checkpoint(target: str) -> ModelInfo:
    """Load ``target`` and summarise it; a bad file gives an info with ``error``."""
    try:
        loaded = checkpoint.load(target, device="cpu")
        s = checkpoint.summary(loaded)
    except (checkpoint.CheckpointError, OSError) as err:
        return ModelInfo(error=" ".join(str(err).split()))
    return ModelInfo(
        codec=s["codec"],
        ticks_per_quarter=s["ticks_per_quarter"],
        parameters=s["parameters"],
        file_size=s["file_size"],
        val_nll=s["val_nll"],
        val_acc=s["val_acc"],
        nll_unit=s["nll_unit"],
        roles=s["roles"],
        styles=s["styles"],
    )


class Catalog:
    """The model list, with each model's description loaded at most once (thread-safe)."""

    def __init__(
        self,
        entries: Iterable[ModelEntry],
        describe: Callable[[str], ModelInfo] = describe_checkpoint,
    ) -> None:
        self.entries: tuple[ModelEntry, ...] = tuple(entries)
        self._describe = describe
        self._infos: dict[str, ModelInfo] = {}
        self._lock = threading.Lock()

    def info(self, entry: ModelEntry) -> ModelInfo | None:
        """The description if it is known already (never loads)."""
        return self._infos.get(entry.target)

    def describe(self, entry: ModelEntry) -> ModelInfo:
        """The description, loading the checkpoint the first time (call off the UI thread)."""
        with self._lock:
            known = self._infos.get(entry.target)
            if known is None:
                try:
                    known = self._describe(entry.target)
                except Exception as err:  # a model list must not take the panel down
                    known = ModelInfo(error=f"{type(err).__name__}: {err}")
                self._infos[entry.target] = known
        return known

    def find(self, name: str) -> ModelEntry | None:
        for entry in self.entries:
            if entry.name == name or entry.target == name:
                return entry
        return None


def find_models(extra: Iterable[str | Path] = ()) -> Catalog:
    """Every model a name reaches (``checkpoint.available``), plus the files in ``extra``."""
    shipped = checkpoint.SHIPPED_DIR.resolve()
    entries: list[ModelEntry] = []
    seen: set[Path] = set()
    for path in checkpoint.available():
        origin = "shipped" if path.parent.resolve() == shipped else "user"
        entries.append(ModelEntry(path.stem, str(path), origin))
        seen.add(path.resolve())
    for item in extra:
        try:
            path = checkpoint.resolve(item)
        except checkpoint.CheckpointError:
            continue  # the session would not have opened with it; nothing to list
        if path.resolve() not in seen:
            seen.add(path.resolve())
            entries.append(ModelEntry(path.stem, str(path), "file"))
    return Catalog(entries)
