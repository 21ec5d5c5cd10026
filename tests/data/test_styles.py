"""A style model's data: several sources, each split as on its own, each piece labelled."""

from __future__ import annotations

import numpy as np
import pytest

from livegen.data import DataError
from livegen.data.styles import StyledPiece, balance_repeats, load_styles, style_loader
from livegen.midifile import write_midi
from livegen.notes import make_notes
from tests.data.helpers import load


def tunes(folder, count, base, length=8):
    folder.mkdir()
    for k in range(count):
        notes = make_notes([(base + (i * k) % 7, i * 0.5, i * 0.5 + 0.5) for i in range(length)])
        write_midi(folder / f"t{k:02d}.mid", notes, make_notes([]))
    return str(folder)


@pytest.fixture
def two_sources(tmp_path):
    return {"low": tunes(tmp_path / "low", 10, 48), "high": tunes(tmp_path / "high", 20, 72)}


def test_each_source_keeps_its_own_split(two_sources, tmp_path):
    kw = {"cache_dir": tmp_path / "cache", "progress": False, "jobs": 1}
    split = load_styles(styles=two_sources, **kw)
    for index, (name, src) in enumerate(two_sources.items()):
        alone = load(src, tmp_path)
        for part, own in zip(
            (split.train, split.valid, split.test),
            (alone.train, alone.valid, alone.test),
            strict=True,
        ):
            mine = [p for p in part if p.style == index]
            assert [p.name for p in mine] == [f"{name}/{p.name}" for p in own]
            assert all(isinstance(p, StyledPiece) for p in mine)
            assert all(np.array_equal(a.notes, b.notes) for a, b in zip(mine, own, strict=True))
    assert split.info["styles"]["high"]["counts"] == {"train": 16, "valid": 2, "test": 2}
    assert split.info["counts"]["train"] == 8 + 16


def test_balance_repeats_the_smaller_corpus(two_sources, tmp_path):
    kw = {"cache_dir": tmp_path / "cache", "progress": False, "jobs": 1}
    split = load_styles(styles=two_sources, balance=1.0, **kw)
    low = [p for p in split.train if p.style == 0]
    assert len(low) == 2 * 8  # 8 training tunes, half the notes of high's 16: twice an epoch
    assert split.info["styles"]["low"]["repeat"] == 2
    assert len([p for p in split.valid if p.style == 0]) == 1  # valid is never repeated


def test_balance_rule():
    assert balance_repeats([100, 400, 400], 0.0) == [1, 1, 1]
    assert balance_repeats([100, 400, 400], 1.0) == [4, 1, 1]
    assert balance_repeats([100, 400, 400], 0.5) == [2, 1, 1]
    with pytest.raises(DataError):
        balance_repeats([1, 2], -1.0)


def test_a_source_too_small_is_one_clear_error(tmp_path):
    tiny = tunes(tmp_path / "tiny", 1, 60)
    with pytest.raises(DataError, match="data.styles.odd"):
        load_styles(styles={"odd": tiny}, cache_dir=tmp_path / "c", progress=False, jobs=1)
    with pytest.raises(DataError, match="names no source"):
        style_loader({})
