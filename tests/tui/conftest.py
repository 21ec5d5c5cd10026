"""Fixtures for the panel's tests (the fake engine client is in tests/tui/helpers.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from livegen.tui.app import LivegenApp
from livegen.tui.launch import make_app
from tests.tui.helpers import FakeEngineClient, run, tiny_catalog

SIZE = (120, 40)  # the pilot's terminal: the whole panel fits, as on a laptop's


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


Scenario = Callable[[Any, LivegenApp, FakeEngineClient], Awaitable[None]]


@pytest.fixture
def drive(panel) -> Callable[..., LivegenApp]:
    """``drive(scenario, **LiveConfig fields)``: ``await scenario(pilot, app, engine)`` on a
    panel (``panel(**fields)``, or the ``app=`` given) under Textual's pilot; returns the
    app once it quit, so its client is closed by then."""

    def go(scenario: Scenario, app: LivegenApp | None = None, **cfg: Any) -> LivegenApp:
        app = panel(**cfg) if app is None else app

        finished: list[bool] = []

        async def piloted() -> None:
            async with app.run_test(size=SIZE) as pilot:
                await scenario(pilot, app, app.engine)
                finished.append(True)

        run(piloted())
        # A scenario cut short without an error (the app gone mid-way) checked nothing.
        assert finished, "the scenario did not run to its end"
        return app

    return go


# chorale_harmony's shape (design.md, issue 9): you sing the soprano, livegen the rest.
HARMONY_PARAMS = {
    "ticks_per_quarter": 4,
    "yours": "soprano",
    "mine": "alto, tenor, bass",
    "yours_max_notes": 1,
}


@pytest.fixture
def parts_checkpoint(tmp_path) -> Path:
    """A tiny parts checkpoint (random weights: the panel reads its description, not its
    music), saved as training saves one."""
    import torch

    from livegen import checkpoint
    from livegen.codecs import make_codec
    from livegen.model import LSTMModel, ModelConfig

    codec = make_codec("parts", **HARMONY_PARAMS)
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=codec.vocab_size, n_layer=1, n_hidden=16, n_embd=8)
    path = tmp_path / "tiny_harmony.pt"
    checkpoint.save(
        path,
        LSTMModel(cfg),
        codec,
        data={"source": "tiny"},
        config={},
        metrics={"val_nll": 1.5, "val_acc": 0.25},
    )
    return path
