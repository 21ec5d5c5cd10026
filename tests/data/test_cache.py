"""livegen.data.cache: a reload hits the cache, a corrupt or stale cache is rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from livegen.data import default_cache_dir
from tests.data.helpers import ABC, all_pieces, load, write_two_tracks


def test_cache_round_trip_and_corrupt_cache_rebuilt(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    write_two_tracks(music / "a.mid")
    (music / "tunes.abc").write_text(ABC)
    first = load(music, tmp_path)
    assert not first.info["cache_hit"]
    second = load(music, tmp_path)
    assert second.info["cache_hit"]
    assert all_pieces(first) == all_pieces(second)
    assert second.info["parsed"] == first.info["parsed"] == 3

    Path(second.info["cache_file"]).write_bytes(b"PK\x03\x04 broken")
    with pytest.warns(UserWarning, match="corrupt cache"):
        third = load(music, tmp_path)
    assert not third.info["cache_hit"] and all_pieces(third) == all_pieces(first)
    assert load(music, tmp_path).info["cache_hit"]

    # A changed file is a different source: no stale hit.
    write_two_tracks(music / "a.mid", tpb=96)
    assert not load(music, tmp_path).info["cache_hit"]


def test_default_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEGEN_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LIVEGEN_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "livegen" / "pieces"
