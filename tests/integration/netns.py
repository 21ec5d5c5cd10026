"""A private network namespace with only loopback, for tests that speak Ableton Link.

Link finds peers by multicast; inside ``unshare -n`` the only interface is ``lo``, and the
multicast route points there, so no Link packet can reach the machine's real network.
JACK's sockets are files (under /dev/shm), not network sockets, so JACK still works inside.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

# "$0" "$@": the command, run by the shell once loopback and the multicast route are up.
SETUP = 'ip link set lo up && ip route add 224.0.0.0/4 dev lo && exec "$0" "$@"'


def in_netns(cmd: list[str]) -> list[str]:
    """``cmd`` run in a fresh network namespace of its own with only loopback."""
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    return [*unshare, "sh", "-c", SETUP, *cmd]


def netns_unavailable() -> str | None:
    """Why no namespace can be made here, or None when one can."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux, iproute2): no private network namespace"
    try:
        done = subprocess.run(in_netns(["true"]), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"cannot make a network namespace: {err}"
    if done.returncode != 0:
        return f"cannot make a network namespace: {done.stderr.strip() or done.returncode}"
    return None


def only_loopback() -> bool:
    """Whether this process's network namespace has no interface but ``lo``."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]
