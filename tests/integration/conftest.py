"""Integration fixtures: a private dummy JACK server per test module, and the peer process.

The tests are skipped only when jackd is not installed, and fail instead where
``LIVEGEN_REQUIRE_JACK`` is set (CI installs jackd2 and sets it).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livegen.jack import INSTALL_HINT, JackServer, start_dummy_jack
from tests.integration.events import measure_jack_period

PEER = Path(__file__).with_name("midi_peer.py")


@pytest.fixture(scope="module")
def jack_server():
    """A ``jackd -d dummy`` of this module's own; this process's JACK clients use it."""
    if shutil.which("jackd") is None:
        reason = f"jackd is not installed; {INSTALL_HINT}"
        if os.environ.get("LIVEGEN_REQUIRE_JACK"):  # CI: a skip here would hide a broken setup
            pytest.fail(reason)
        pytest.skip(reason)
    server = start_dummy_jack()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def jack_period(jack_server) -> float:
    """The module's server's cycle in seconds (5.3 ms at the fixture's 256 / 48 kHz)."""
    return measure_jack_period(jack_server)


class Peer:
    """``midi_peer.py`` running as a separate process against the test's JACK server."""

    def __init__(self, server: JackServer, report: Path, args: list[str], ready_timeout=10.0):
        self.report_path = report
        cmd = [sys.executable, str(PEER), "--report", str(report), *args]
        self.proc = subprocess.Popen(
            cmd,
            env=server.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.info = self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("READY "):
                    return json.loads(line[6:])
                if not line and self.proc.poll() is not None:
                    break
        self.proc.kill()
        _, err = self.proc.communicate()
        raise AssertionError(f"midi_peer did not get ready: {err.strip()}")

    def wait(self, timeout: float = 10.0) -> dict:
        """Wait for the peer to finish on its own; its report."""
        # Not communicate(): closing its stdin would tell the peer to stop.
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"midi_peer did not finish: {err.strip()}") from None
        err = self.proc.stderr.read()
        with contextlib.suppress(BrokenPipeError):  # it had finished: "quit" stayed buffered
            self.proc.stdin.close()
        assert self.proc.returncode == 0, f"midi_peer failed: {err.strip()}"
        return json.loads(self.report_path.read_text())

    def quit(self, timeout: float = 10.0) -> dict:
        """Tell the peer to stop recording; its report."""
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def peer(jack_server, tmp_path):
    """Start peers with ``peer(*args)``; any still running are killed at the end."""
    started: list[Peer] = []

    def start(*args: str) -> Peer:
        p = Peer(jack_server, tmp_path / f"peer-{len(started)}.json", list(args))
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
