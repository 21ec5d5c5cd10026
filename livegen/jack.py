"""A private JACK server for tests and machines without a MIDI backend.

``start_dummy_jack()`` runs ``jackd -d dummy`` (no sound card needed) under a name of
its own, real-time where this process may schedule real-time threads, waits until
clients can connect,
points this process's JACK clients at it through ``JACK_DEFAULT_SERVER`` and
stops it on exit. ``livegen run --start-jack`` and the integration tests use it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from livegen.errors import LivegenError

INSTALL_HINT = "install it with: apt-get install --no-install-recommends jackd2"
# jackd's own priority; its clients' process threads run 5 below (65), above livegen's
# tick thread (realtime.try_realtime: 10), so the tick never holds up a JACK cycle.
SERVER_PRIORITY = 70


class JackError(LivegenError, RuntimeError):
    """jackd is missing or did not start; the message says why and what to do."""


def server_name() -> str:
    """The JACK server that clients of this process connect to."""
    return os.environ.get("JACK_DEFAULT_SERVER") or "default"


def _socket_paths(name: str) -> list[Path]:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    base = Path("/tmp" if sys.platform == "darwin" else "/dev/shm")
    return [
        base / f"jack_{name}_{uid}_0",  # jackd2
        base / f"jack-{uid}" / name / "jack_0",  # jackd1
    ]


def server_running(name: str | None = None) -> bool | None:
    """Whether a JACK server accepts clients, without starting libjack.

    Connecting to the server's socket is silent and takes microseconds, where
    opening a JACK client that fails prints several lines to stderr. Returns
    None where the check cannot tell (no socket folder, e.g. PipeWire's JACK).
    """
    name = name or server_name()
    paths = _socket_paths(name)
    if not any(p.parent.is_dir() for p in paths):
        return None
    for path in paths:
        if not path.exists():
            continue
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return True
        except OSError:
            pass  # a stale socket left by a server that died
        finally:
            sock.close()
    return False


class JackServer:
    """A running private ``jackd -d dummy``; a context manager that stops it."""

    def __init__(
        self,
        name: str,
        proc: subprocess.Popen,
        log_path: Path,
        started_in: float,
        realtime: bool = False,
    ):
        self.name = name
        self.realtime = realtime  # jackd and its clients' process threads on SCHED_FIFO
        self.proc = proc
        self.log_path = log_path
        self.started_in = started_in  # seconds from spawn until a client could connect
        self._old_env: dict[str, str | None] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses that should use this server."""
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def use(self) -> None:
        """Point JACK clients opened from now on in this process at this server."""
        for key, value in (("JACK_DEFAULT_SERVER", self.name), ("JACK_NO_START_SERVER", "1")):
            self._old_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate jackd (kill it if it does not exit) and restore the environment."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._remove_leftovers()
        for key, value in self._old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._old_env.clear()
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def _remove_leftovers(self) -> None:
        """Semaphores of clients still open when the server stopped stay in /dev/shm."""
        if self.proc.poll() is None or not Path("/dev/shm").is_dir():
            return
        # The name is this server's own (pid and random suffix), so nothing else matches.
        for path in Path("/dev/shm").glob(f"jack_sem.*_{self.name}_*"):
            with contextlib.suppress(OSError):
                path.unlink()

    def __enter__(self) -> JackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"exited {self.proc.returncode}"
        return f"JackServer({self.name!r}, pid={self.proc.pid}, {state})"


def start_dummy_jack(
    name: str | None = None,
    rate: int = 48000,
    period: int = 256,
    *,
    timeout: float = 10.0,
    use: bool = True,
    realtime: bool | None = None,
) -> JackServer:
    """Start ``jackd -n NAME [-R | --no-realtime] -d dummy -r RATE -p PERIOD``, wait for it.

    With ``use`` (the default) this process's JACK clients connect to it until
    it stops; ``server.env`` is the environment for subprocesses. ``realtime``
    None (the default) means real-time where permitted (:func:`may_realtime`).

    Why real-time: a non-real-time server runs its clients' process threads as
    normal threads, which must each run within one period (5.3 ms here) of being
    woken, or jackd drops that cycle and the MIDI in it, note-offs included. On a
    busy 2-core machine that happened 355 times in 10 minutes (bench/record_load.py);
    under ``-R`` those threads preempt ordinary load, as on a musician's audio setup.
    """
    jackd = shutil.which("jackd")
    if jackd is None:
        raise JackError(f"jackd is not installed; {INSTALL_HINT}")
    name = name or f"livegen-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    # The dummy driver waits a fixed 21333 us per cycle unless told the period's length.
    wait_us = round(period / rate * 1e6)
    realtime = may_realtime() if realtime is None else realtime
    mode = ["-R", "-P", str(SERVER_PRIORITY)] if realtime else ["--no-realtime"]
    cmd = [jackd, *mode, "-n", name, "-t", "2000"]
    cmd += ["-d", "dummy", "-r", str(rate), "-p", str(period), "-w", str(wait_us)]
    cmd += ["-C", "0", "-P", "0"]  # MIDI only: no audio ports to process
    fd, log_name = tempfile.mkstemp(prefix=f"jackd-{name}-", suffix=".log")
    log_path = Path(log_name)
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    t0 = time.perf_counter()
    with os.fdopen(fd, "wb") as log:
        # A log file, not a pipe: a pipe nobody reads would block jackd once full.
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    server = JackServer(name, proc, log_path, 0.0, realtime)
    deadline = t0 + timeout
    while True:
        if proc.poll() is not None:
            log = server.log()
            server.stop()
            raise JackError(_why_jackd_failed(proc.returncode, log))
        if server_running(name) and _lsp_ok(name):
            break
        if time.perf_counter() > deadline:
            server.stop()
            raise JackError(f"jackd -n {name} did not accept clients within {timeout:.0f} s")
        time.sleep(0.02)
    server.started_in = time.perf_counter() - t0
    if use:
        server.use()
    return server


def may_realtime(priority: int = SERVER_PRIORITY) -> bool:
    """Whether this process may start SCHED_FIFO threads at ``priority`` (root or rtprio)."""
    if not hasattr(os, "sched_setscheduler"):
        return False
    if os.geteuid() == 0:
        return True
    soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
    return soft == resource.RLIM_INFINITY or soft >= priority


BANNER = ("jackdmp ", "Copyright ", "jackdmp comes with", "This is free software", "under certain")
STALE_REGISTRY = (
    "; JACK's registry in /dev/shm can keep servers that were killed: with no JACK server "
    "running, remove /dev/shm/jack-shm-registry and try again"
)


def _why_jackd_failed(status: int, log: str) -> str:
    """jackd's own error lines (its errors go to stderr before the banner is flushed)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    said = [ln for ln in lines if not ln.startswith(BANNER)] or lines[-3:]
    text = f"jackd exited with status {status} while starting: " + " | ".join(said[-4:])
    if any("Too many servers" in ln for ln in said):
        text += STALE_REGISTRY
    return text


def _lsp_ok(name: str) -> bool:
    """A real client handshake (jack_lsp), where the tool exists."""
    lsp = shutil.which("jack_lsp")
    if lsp is None:
        return True
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    done = subprocess.run([lsp, "-s", name], env=env, capture_output=True, timeout=10, check=False)
    return done.returncode == 0
