"""A separate process that sends OSC to livegen over UDP on 127.0.0.1, as a controller would.

It uses python-osc directly (not livegen), so the two ends share no code. Each line on
stdin is JSON: ``[["/livegen/temperature", 0.5], ["/livegen/panic"]]`` sends those
messages (floats as OSC 'f', ints 'i', strings 's'); ``{"garbage": N, "seconds": S}``
sends N datagrams of random bytes and N well-addressed broken ones, spread over S seconds.
After each line it prints ``SENT <perf_counter>`` (the stamp just before the first
datagram left). It ends at EOF.

    python tests/integration/osc_peer.py --port 9000
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import time

from pythonosc.osc_message_builder import OscMessageBuilder


def message(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def garbage(n: int, rng: random.Random) -> list[bytes]:
    broken = [
        b"/livegen/temperature\x00\x00\x00\x00,f\x00\x00\x01",  # a float cut short
        message("/livegen/temperature", 99.0),  # out of range
        message("/livegen/nope", 1),  # no such address
    ]
    out = [rng.randbytes(rng.randrange(1, 64)) for _ in range(n)]
    return out + [broken[k % len(broken)] for k in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    rng = random.Random(11)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print("READY", flush=True)
    for line in sys.stdin:
        spec = json.loads(line)
        if isinstance(spec, dict):
            dgrams, seconds = garbage(spec["garbage"], rng), spec.get("seconds", 0.0)
        else:
            dgrams, seconds = [message(*m) for m in spec], 0.0
        stamp = time.perf_counter()
        for k, d in enumerate(dgrams):
            due = stamp + seconds * k / len(dgrams)
            while time.perf_counter() < due:  # paced: a loopback burst overflows the buffer
                time.sleep(0.0005)
            sock.sendto(d, (args.host, args.port))
        print(f"SENT {stamp}", flush=True)


if __name__ == "__main__":
    main()
