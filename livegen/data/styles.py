"""Training data of a style model: several sources, each piece labelled with its style.

A recipe's ``data.styles`` maps a style name to a source (``{folk: essen-erk, chorales:
bach, fiddle: ryans}``). Each source is loaded by :func:`livegen.data.load_pieces` exactly as
a single-source recipe loads it (same seed, same cache, same limit), so each corpus keeps
the train / valid / test split its own single-corpus model gets, and a style model and
those models are measured on the same pieces. The style rides on the piece
(:class:`StyledPiece`), as a parted piece's meter does, so batches and evaluation read it
where they read the piece.

Balance: with ``data.style_balance`` 0 an epoch is every training piece once, so each
corpus is seen as often as by its own model. With ``b`` > 0 a corpus with fewer training
tokens is repeated ``round((largest / its tokens) ** b)`` times per epoch (valid and test
never), so a small corpus is not drowned by a large one; 1 evens the corpora out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from livegen.data import DataError, Piece, Split, load_pieces


@dataclass(frozen=True, eq=False)
class StyledPiece(Piece):
    """A piece and the index of its style in the model's ``styles``."""

    style: int = 0


def style_loader(styles: Mapping[str, str], balance: float = 0.0) -> Callable[..., Split]:
    """A loader with :func:`load_pieces`'s keywords for a recipe's ``data.styles``."""
    if not styles:
        raise DataError("data.styles names no source: give {style name: source, ...}")
    return functools.partial(load_styles, styles=dict(styles), balance=balance)


def load_styles(
    source: str | None = None,
    *,
    styles: Mapping[str, str],
    balance: float = 0.0,
    **load_kw,
) -> Split:
    """Every source of ``styles`` split as on its own, its pieces labelled with its style.

    ``source`` (a recipe's ``data.source``) is not read: ``styles`` names every source.
    """
    del source
    parts: list[list[StyledPiece]] = [[], [], []]
    info: dict = {"styles": {}, "split": "each source's own", "balance": balance}
    splits = []
    for index, (name, src) in enumerate(styles.items()):
        split = load_pieces(src, **load_kw)
        if not split.train or not split.valid:
            raise DataError(f"data.styles.{name}: {src} has too few pieces for train and valid")
        splits.append(split)
        for out, pieces in zip(parts, (split.train, split.valid, split.test), strict=True):
            out.extend(StyledPiece(f"{name}/{p.name}", p.notes, index) for p in pieces)
        info["styles"][name] = {"source": src, "counts": split.info["counts"]}
    # Notes stand in for tokens: both grow with the music, and no codec is needed here.
    sizes = [sum(len(p.notes) for p in s.train) for s in splits]
    repeats = balance_repeats(sizes, balance)
    train = []
    for index, (name, times) in enumerate(zip(styles, repeats, strict=True)):
        info["styles"][name]["repeat"] = times
        train.extend([p for p in parts[0] if p.style == index] * times)
    info["counts"] = {"train": len(train), "valid": len(parts[1]), "test": len(parts[2])}
    return Split(train, parts[1], parts[2], info)


def balance_repeats(sizes: list[int], balance: float) -> list[int]:
    """Times per epoch each corpus's training pieces are seen, for corpora of ``sizes``."""
    if balance < 0:
        raise DataError(f"data.style_balance must be >= 0, got {balance}")
    top = max(sizes)
    return [max(1, round((top / max(n, 1)) ** balance)) for n in sizes]


def one_hot(index: int, n_styles: int) -> np.ndarray:
    """The style input of a piece of style ``index``: (S,) float32."""
    w = np.zeros(n_styles, np.float32)
    w[index] = 1.0
    return w
