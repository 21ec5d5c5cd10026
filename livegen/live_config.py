"""The live session's settings: one frozen dataclass, read from ``configs/live.yaml``.

The same checking as the training recipes (:func:`livegen.recipe.from_dict`): an unknown
key or a wrong type is a :class:`~livegen.recipe.ConfigError` that names it. Command-line
flags override single fields with :func:`dataclasses.replace`. Each field's ``help`` (in its
metadata) documents it here and is the help of its ``livegen run`` flag, which the command
line makes from the fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livegen.controls import CC_CONTROLS, LIMITS, VELOCITIES
from livegen.modes import Mode
from livegen.recipe import ConfigError, Invalid, from_dict, read_yaml, require
from livegen.scales import SCALES, TONICS, key_pitches, parse_key  # noqa: F401  (re-exported)

MODES = tuple(m.value for m in Mode)
CLOCKS = ("internal", "midi", "link")
DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "alsa", "jack", "coremidi", "windows")
PRECISIONS = ("auto", "fp32", "int8")


def _setting(default: Any, help: str, **cli: Any) -> Any:
    """A field with its help (``livegen run --help`` shows it) and flag hints (``metavar``,
    ``choices``): the command line's live options are made from these fields."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class LiveConfig:
    checkpoint: str = _setting(
        "folk_melody",
        "shipped model name (livegen's checkpoints/NAME.pt) or path to a .pt file",
        metavar="NAME|PATH",
        aliases=("--model",),
    )
    mode: str = _setting(
        "continue",
        "how to play: continue (call and response), accompany, harmonize (parts models) or free",
        choices=MODES,
    )
    temperature: float = _setting(
        0.9, "sampling temperature; 0 picks the likeliest token", metavar="T"
    )
    top_p: float = _setting(1.0, "nucleus sampling; 1 keeps all tokens", metavar="P")
    seed: int | None = _setting(
        None, "fixed seed: the same input gives the same answer (default: random)", metavar="N"
    )
    bpm: float = _setting(120.0, "internal clock tempo")
    clock: str = _setting(
        "internal",
        "tick source: internal, midi (follow 0xF8 clock on the input), or link (join Ableton "
        "Link: its tempo, bar and Start/Stop)",
        choices=CLOCKS,
    )
    clock_out: bool = _setting(
        False, "send MIDI clock (Start, pulses, Stop) on the output, to lead other gear"
    )
    silence_ticks: int = _setting(
        8, "continue: answer after this many ticks without the player", metavar="N"
    )
    response_bars: float = _setting(
        2.0, "continue: answer length in bars; 0 = as long as the call", metavar="BARS"
    )
    beats_per_bar: int = _setting(4, "beats in a bar, the unit of response_bars", metavar="N")
    channel: int = _setting(0, "output channel, 0..15 (shown as 1..16 by most DAWs)")
    latency_ms: float = _setting(
        0.0, "send output this much earlier (negative: later)", metavar="MS"
    )
    passthrough: bool = _setting(False, "echo the player's notes to the output")
    velocity: str = _setting(
        "model",
        "model (the codec's, performance only), player, or fixed",
        choices=VELOCITIES,
    )
    fixed_velocity: int = _setting(
        90, "velocity for velocity: fixed, and codecs without velocity", metavar="1-127"
    )
    key: str | None = _setting(
        None, "key/scale lock, e.g. 'D dorian', 'A minor' (default: off)", metavar="KEY"
    )
    guards: bool = _setting(
        True,
        "a parts model's sampling guards: its notes in its voices' ranges and the key, no "
        "parallel 5ths/8ves with yours, chords on the beats, sounding under your strikes "
        "(BENCHMARKS.md, musical checks)",
    )
    style: int = _setting(
        0, "a style model's style, by number (livegen info MODEL lists them)", metavar="N"
    )
    style_b: int = _setting(0, "a second style, mixed in by --style-mix", metavar="N")
    style_mix: float = _setting(0.0, "weight of --style-b: 0 style alone, 1 style-b", metavar="0-1")
    primer: str | None = _setting(
        None, "MIDI file fed before start (free mode; default: the shipped one)", metavar="FILE.mid"
    )
    record: str | None = _setting(
        None,
        "record the session (your part, livegen's, tempo, controls) into this MIDI file; "
        "R in the panel stops and starts it",
        metavar="FILE.mid",
    )
    backend: str = _setting("auto", "MIDI backend", choices=BACKENDS)
    in_port: str = _setting("livegen in", "input port: created, or opened by name", metavar="NAME")
    out_port: str = _setting(
        "livegen out", "output port: created, or opened by name", metavar="NAME"
    )
    virtual: bool = _setting(True, "create the ports (off: open existing ports by name)")
    device: str = _setting("auto", "where the model steps", choices=DEVICES)
    precision: str = _setting(
        "auto", "CPU step: auto (int8 only for big models), fp32 or int8", choices=PRECISIONS
    )
    realtime: bool = _setting(True, "try SCHED_FIFO for the tick thread (Linux, where permitted)")
    synth: bool = _setting(
        False, "start FluidSynth and play livegen out through it: hear it without a DAW"
    )
    soundfont: str | None = _setting(
        None,
        "the .sf2 --synth plays (default: FluidR3_GM, TimGM6mb or default-GM, as for --wav)",
        metavar="FILE.sf2",
    )
    queue_size: int = _setting(
        4096, "input messages held between ticks; beyond it they are dropped", metavar="N"
    )
    osc: int | None = _setting(
        None, "listen for OSC control on this UDP port (default: no listener)", metavar="PORT"
    )
    osc_host: str = _setting(
        "127.0.0.1", "address the OSC listener binds to; 0.0.0.0: every interface", metavar="HOST"
    )
    osc_reply: str | None = _setting(
        None, "send the session's figures by OSC to HOST:PORT 4 times a second", metavar="HOST:PORT"
    )
    cc: dict[str, int] = field(
        default_factory=dict, metadata={"help": "control name -> CC number (YAML only)"}
    )
    preset: str | None = _setting(
        None,
        "named live settings (configs/presets/, or presets/ in the user's config folder); "
        "they override this file and the remembered settings, flags override them",
        metavar="NAME",
    )

    def __post_init__(self) -> None:
        require(self.mode in MODES, "mode", f"must be one of {', '.join(MODES)}")
        require(self.clock in CLOCKS, "clock", f"must be one of {', '.join(CLOCKS)}")
        require(self.velocity in VELOCITIES, "velocity", f"must be one of {VELOCITIES}")
        require(self.device in DEVICES, "device", f"must be one of {', '.join(DEVICES)}")
        require(
            self.precision in ("auto", "fp32", "int8"), "precision", "must be auto, fp32 or int8"
        )
        require(self.backend in BACKENDS, "backend", f"must be one of {', '.join(BACKENDS)}")
        for control in LIMITS:  # the one table of limits, as for live changes
            if hasattr(self, control.value):
                limit = LIMITS[control]
                value = getattr(self, control.value)
                require(limit.low <= value <= limit.high, control.value, _range(limit))
        require(0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        require(self.silence_ticks >= 1, "silence_ticks", "must be >= 1")
        require(1 <= self.beats_per_bar <= 16, "beats_per_bar", "must be in 1..16")
        require(1 <= self.fixed_velocity <= 127, "fixed_velocity", "must be in 1..127")
        require(self.queue_size >= 16, "queue_size", "must be >= 16")
        if self.key is not None:
            try:
                parse_key(self.key)
            except ValueError as err:
                raise Invalid("key", str(err)) from None
        require(self.osc is None or 0 <= self.osc <= 65535, "osc", "port must be in 0..65535")
        if self.osc_reply is not None:
            try:
                host_port(self.osc_reply)
            except ValueError as err:
                raise Invalid("osc_reply", str(err)) from None
        if self.record is not None:
            require(
                Path(self.record).suffix.lower() in (".mid", ".midi"),
                "record",
                "must be a .mid file",
            )
        for name, number in self.cc.items():
            require(name in CC_CONTROLS, "cc", f"has unknown control {name!r} ({CC_CONTROLS})")
            require(0 <= number <= 119, "cc", f"number for {name!r} must be in 0..119")


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9001`` too) as (host, port); ValueError naming what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"must be HOST:PORT with a port in 1..65535, got {text!r}")
    return host.strip("[]"), int(port)


def _range(limit) -> str:
    return f"must be in {limit.low:g}..{limit.high:g}"


def load_live_config(
    path: str | Path | None, remembered: dict[str, Any] | None = None, **overrides: Any
) -> LiveConfig:
    """The YAML file's settings (or the defaults), then ``remembered`` (the panel's), then
    the preset named by the overrides or the file, then the non-None ``overrides``."""
    data: dict[str, Any] = {}
    where = "live settings"
    if path is not None:
        data = read_yaml(path) or {}
        where = str(path)
    cfg = _replace(from_dict(LiveConfig, data, where), remembered or {}, "remembered settings")
    preset = overrides.get("preset") or cfg.preset
    if preset:
        from livegen import presets  # it imports this module

        cfg = presets.load(preset).over(cfg)
    return _replace(cfg, overrides, "command line")


def _replace(cfg: LiveConfig, overrides: dict[str, Any], where: str) -> LiveConfig:
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return cfg
    try:
        return dataclasses.replace(cfg, **changes)
    except Invalid as e:
        raise ConfigError(f"{where}: {e.key} {e.problem} (got {changes.get(e.key)!r})") from None
