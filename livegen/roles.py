"""Who plays which part of a model: what the panel, the model list and ``livegen info`` show.

A parts model (codec ``parts``) knows two parts, *yours* (what the musician plays, heard)
and *mine* (what livegen plays), each with a role name and a pitch range in the codec's
params. A single-stream model has one part, shared: you and livegen play the same voice.
:func:`roles_of` reads this from a codec, which is rebuilt from a checkpoint's codec spec
alone (no weights), so a model can be described before it is loaded to play. The values are
plain and frozen: they cross the engine's pipe inside the snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from livegen.codecs.parts import PartsCodec
from livegen.plot import note_name

WIDTH = 42  # the Session box's text width: a longer line ends in an ellipsis


@dataclass(frozen=True, slots=True)
class Part:
    """One part as a musician reads it: its role, its pitch range, its cap on notes."""

    name: str  # "soprano", "alto, tenor, bass"; "" for the one shared stream
    low: int
    high: int
    max_notes: int  # 1: one note at a time

    @property
    def mono(self) -> bool:
        return self.max_notes == 1


@dataclass(frozen=True, slots=True)
class Roles:
    """The parts of a model: ``mine`` is None for one stream, shared by you and livegen."""

    yours: Part
    mine: Part | None = None

    @property
    def shared(self) -> bool:
        return self.mine is None

    def names(self) -> tuple[str, str]:
        """The two parts' names for labels; one stream is the same voice for both."""
        if self.mine is None:
            return "", ""
        return self.yours.name, self.mine.name

    def line(self) -> str:
        """One line for the Session box: ``you: soprano · livegen: alto, tenor, bass``."""
        if self.mine is None:
            return "one stream: you and livegen share it"
        return fit(f"you: {self.yours.name} · livegen: {self.mine.name}")

    def listing(self) -> str:
        """For a model list: ``you soprano / livegen alto, tenor, bass`` or ``one stream``."""
        if self.mine is None:
            return "one stream"
        return f"you {self.yours.name} / livegen {self.mine.name}"

    def details(self) -> str:
        """For ``livegen info``: the listing with each part's range and note cap."""
        if self.mine is None:
            return f"one stream, shared by you and livegen (pitches {_range(self.yours)})"
        return "; ".join(
            f"{who} {part.name} ({_range(part)}{_cap(part)})"
            for who, part in (("you", self.yours), ("livegen", self.mine))
        )


ONE_STREAM = Roles(Part("", 0, 127, 128))  # before a model is described


def roles_of(codec: Any) -> Roles:
    """The parts of ``codec``: yours and mine for a parts codec, else one shared stream."""
    if isinstance(codec, PartsCodec):
        yours, mine = (role_text(name) for name in codec.parts())
        y, m = codec.your_part, codec.my_part
        return Roles(
            Part(yours, y.low, y.high, y.max_notes), Part(mine, m.low, m.high, m.max_notes)
        )
    cap = 1 if codec.name == "melody" else 128  # melody keeps the top note of a chord
    return Roles(Part("", codec.low, codec.high, cap))


def role_text(name: str) -> str:
    """A role as written in a recipe (``alto+tenor+bass``, ``Alto/Tenor``) as a list to read."""
    words = [w.strip() for w in re.split(r"[+,/;&]", name) if w.strip()]
    return ", ".join(words) or name


def fit(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cap(part: Part) -> str:
    if part.mono:
        return ", one note at a time"
    return f", up to {part.max_notes} notes" if part.max_notes < 128 else ""


def _range(part: Part) -> str:
    return f"{note_name(part.low)}..{note_name(part.high)}"
