"""Fixtures for the panel's tests (the fake engine client is in tests/tui/helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from livegen.tui.app import LivegenApp
from livegen.tui.launch import make_app
from tests.tui.helpers import FakeEngineClient, tiny_catalog


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch) -> Path:
    """The remembered settings live here during a test."""
    folder = tmp_path / "config"
    monkeypatch.setenv("LIVEGEN_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def panel() -> Callable[..., LivegenApp]:
    """``panel(**LiveConfig fields)``: the app on a fake engine client; every one is closed."""
    apps: list[LivegenApp] = []

    def make(**cfg) -> LivegenApp:
        app = make_app(
            lambda remembered: FakeEngineClient(**{**remembered, **cfg}), catalog=tiny_catalog()
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()
