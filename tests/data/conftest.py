"""Every data test reads and writes its own cache, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # Never read or write the user's real cache from a test.
    monkeypatch.setenv("LIVEGEN_CACHE", str(tmp_path / "default-cache"))
