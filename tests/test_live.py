"""``run_headless`` against a fake engine client (no process, no ports): what it prints."""

from __future__ import annotations

import io
from types import SimpleNamespace

from livegen.live import run_headless
from livegen.snapshot import Snapshot


class FakeClient:
    """Stands in for EngineClient: polled once while running, then one notice as it closes."""

    def __init__(self) -> None:
        self.hello = SimpleNamespace(
            notices=("hello notice",), ports=None, model_path="m.pt", codec="parts", step_path="x"
        )
        self.error = None
        self._polls = 1
        self._snap = Snapshot(notices=("engine notice",), notice_count=1)

    @property
    def running(self) -> bool:
        self._polls -= 1
        return self._polls >= 0

    def start(self) -> None:
        pass

    def wait(self, timeout: float) -> None:
        pass

    def snapshot(self) -> Snapshot:
        return self._snap

    def close(self) -> None:  # the engine said its figures as it closed (harmonize's)
        self._snap = Snapshot(notices=("engine notice", "harmonize: 3 note-ons"), notice_count=2)


def test_a_notice_said_as_the_session_closes_is_printed():
    out = io.StringIO()
    assert run_headless(FakeClient(), out=out) == 0
    lines = out.getvalue().splitlines()
    assert "harmonize: 3 note-ons" in lines
    assert lines.count("engine notice") == 1  # printed once, as it came
