"""Wiring FluidSynth into a JACK session: find its ports and connect them (jack_lsp, jack_connect).

The command-line tools of jackd2, not a JACK client of livegen's own: they run once at start,
off the tick path, and need no Python binding.
"""

from __future__ import annotations

from livegen.jack import INSTALL_HINT
from livegen.synth import SynthError, run_tool


def parse_lsp(text: str) -> dict[str, list[str]]:
    """``jack_lsp -p -t`` output -> port name -> its properties and type lines."""
    ports: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(("\t", " ")):
            if current is not None:
                current.append(line.strip())
        elif line.strip():
            current = ports.setdefault(line.strip(), [])
    return ports


def list_ports() -> dict[str, list[str]]:
    return parse_lsp(_tool("jack_lsp", "-p", "-t"))


def _tool(name: str, *args: str) -> str:
    return run_tool(name, *args, missing=f"it comes with JACK: {INSTALL_HINT}")


def _is(attrs: list[str], *words: str) -> bool:
    text = " ".join(attrs)
    return all(word in text for word in words)


def free_client_name(base: str) -> str:
    """``base``, or ``base-PID`` when another livegen's synth already has it on this server
    (JACK would rename ours, and we would look for the wrong ports)."""
    import os

    clients = {name.split(":", 1)[0] for name in list_ports()}
    return base if base not in clients else f"{base}-{os.getpid()}"


def synth_input(client: str, ports: dict[str, list[str]] | None = None) -> str | None:
    """FluidSynth's MIDI input port, once it exists."""
    ports = list_ports() if ports is None else ports
    for name, attrs in ports.items():
        if name.startswith(f"{client}:") and _is(attrs, "input", "midi"):
            return name
    return None


def playback_pairs(client: str, ports: dict[str, list[str]]) -> list[tuple[str, str]]:
    """FluidSynth's audio outputs paired with the sound card's first playback inputs."""
    outs = [n for n, a in ports.items() if n.startswith(f"{client}:") and _is(a, "output", "audio")]
    sinks = [n for n, a in ports.items() if _is(a, "input", "physical", "audio")]
    if not sinks:
        return []
    if len(sinks) == 1:  # a mono card: both channels into it
        return [(out, sinks[0]) for out in outs]
    return list(zip(outs, sinks[:2], strict=False))


def connect(ports_info, synth_port: str, client: str) -> str:
    """``livegen out`` -> FluidSynth, FluidSynth -> system playback; says what it did."""
    source = ports_info.out_full
    if source is None:
        raise SynthError(
            f"cannot find livegen's output {ports_info.out_name!r} among JACK's ports to connect "
            "FluidSynth to it"
        )
    _tool("jack_connect", source, synth_port)
    pairs = playback_pairs(client, list_ports())
    for out, sink in pairs:
        _tool("jack_connect", out, sink)
    if pairs:
        return "JACK audio to " + ", ".join(sink for _, sink in pairs)
    return (
        "this JACK server has no sound card output (a dummy server?), so nothing is heard; "
        f"connect {client}:left and {client}:right to one"
    )
