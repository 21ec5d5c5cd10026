"""Wiring FluidSynth into an ALSA session: find its sequencer port and connect it (aconnect).

``aconnect`` (alsa-utils) is the ALSA sequencer's own patch tool; it runs once at start,
off the tick path.
"""

from __future__ import annotations

import os
import re

from livegen.synth import SynthError, alsa_audio_driver, parse_client_port, run_tool

_CLIENT = re.compile(r"^client (\d+): '(.*)'")
_PORT = re.compile(r"^\s+(\d+) '(.*)'")


def parse_aconnect(text: str) -> list[tuple[int, str, list[int]]]:
    """``aconnect -o`` output -> (client number, client name, port numbers)."""
    clients: list[tuple[int, str, list[int]]] = []
    for line in text.splitlines():
        if m := _CLIENT.match(line):
            clients.append((int(m.group(1)), m.group(2), []))
        elif (m := _PORT.match(line)) and clients:
            clients[-1][2].append(int(m.group(1)))
    return clients


def _aconnect(*args: str) -> str:
    return run_tool("aconnect", *args, missing="install it with: sudo apt-get install alsa-utils")


def _named(client: str, name: str) -> bool:
    # FluidSynth names its sequencer client 'FLUID Synth (ID)' after midi.alsa_seq.id.
    return name == client or f"({client})" in name


def free_client_name(base: str) -> str:
    taken = any(_named(base, name) for _, name, _ in parse_aconnect(_aconnect("-o")))
    return base if not taken else f"{base}-{os.getpid()}"


def synth_input(client: str, listing: str | None = None) -> str | None:
    for number, name, ports in parse_aconnect(_aconnect("-o") if listing is None else listing):
        if _named(client, name) and ports:
            return f"{number}:{ports[0]}"
    return None


def connect(ports_info, synth_port: str, client: str) -> str:
    source = parse_client_port(ports_info.out_full or "")
    if source is None:
        raise SynthError(
            f"cannot find the ALSA address of livegen's output {ports_info.out_name!r} to "
            "connect FluidSynth to it"
        )
    _aconnect(source, synth_port)
    driver = alsa_audio_driver()
    return f"ALSA sequencer {source} -> {synth_port}, audio through {driver}"
