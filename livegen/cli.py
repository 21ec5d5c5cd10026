"""The ``livegen`` command line: subcommands, their help, and one-line errors.

Nothing heavy is imported at module level: torch, mido and the model load inside the
subcommand that needs them, so ``livegen --help`` answers at once. Every failure a
user can cause (a bad path, a foreign checkpoint, a malformed MIDI file, a bad
config) ends as ``livegen: error: <one line>`` and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
import types
import typing
from collections.abc import Sequence
from pathlib import Path

from livegen import __version__
from livegen.cli_harmonize import add_harmonize
from livegen.cli_offline import cmd_generate, cmd_info, cmd_ports
from livegen.cli_record import add_recover
from livegen.errors import CliError, LivegenError  # noqa: F401  CliError: re-exported
from livegen.paths import LIVE_CONFIG, PRIMERS, ROOT

PROG = "livegen"
DEFAULT_CHECKPOINT = "folk_melody"

# What the user can fix: livegen's own errors, and files the OS refused or could not find.
_EXPECTED = (LivegenError, FileNotFoundError, IsADirectoryError, PermissionError)


# ---- parser -----------------------------------------------------------------------------------
class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Append real defaults to option help; keep descriptions and examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
            help_text += " (default: %(default)s)"
        return help_text


def _para(*paragraphs: str) -> str:
    """Descriptions wrapped here, since the formatter keeps them as written (for the epilogs)."""
    return "\n\n".join(textwrap.fill(p, 80) for p in paragraphs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description=_para(
            "livegen: real-time MIDI continuation with a stateful LSTM stepped once per clock "
            "tick.",
            "With no command, livegen opens the live control panel; it takes the options of "
            "'livegen panel --help' (e.g. 'livegen --checkpoint chorale_poly --start-jack').",
            "Train models with 'python train.py --config configs/<recipe>.yaml'.",
        ),
        epilog="examples:\n"
        "  livegen                      # the live panel\n"
        "  livegen generate -o out.mid --plot out.png\n"
        "  livegen generate --checkpoint chorale_poly --primer my_phrase.mid -o out.mid\n"
        "  livegen info folk_melody\n"
        "  livegen ports\n\n"
        "'livegen <command> --help' describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")

    gen = sub.add_parser(
        "generate",
        formatter_class=_Formatter,
        help="continue a primer MIDI file offline and write the result",
        description=_para(
            "Continue a primer offline: the model listens to the primer tick by tick (as the "
            "live engine would), then plays on for --bars bars from where the primer's last "
            "note ends.",
            "The output MIDI has the primer on track 1 (channel 1) and the continuation on "
            "track 2 (channel 2), at the primer's tempo. The same --seed gives the same "
            "continuation.",
        ),
        epilog="examples:\n"
        "  livegen generate -o out.mid\n"
        "  livegen generate --checkpoint checkpoints/my_model.pt --primer call.mid "
        "--bars 16 --temperature 0.8 --seed 7 -o answer.mid --plot answer.png\n"
        "  livegen generate --harmonize melody.mid --model chorale_harmony -o harmonized.mid",
    )
    gen.add_argument(
        "--checkpoint",
        "--model",
        default=DEFAULT_CHECKPOINT,
        metavar="NAME|PATH",
        help="a shipped model's name (checkpoints/NAME.pt) or a checkpoint file",
    )
    gen.add_argument(
        "--primer",
        type=Path,
        metavar="FILE.mid",
        help="the phrase to continue (drums on channel 10 are ignored); default: "
        f"{PRIMERS.relative_to(ROOT)}/folk.mid for melody models, chorale.mid for the others",
    )
    gen.add_argument(
        "--bars",
        type=_positive_int,
        default=8,
        metavar="N",
        help="length of the continuation in bars",
    )
    gen.add_argument(
        "--temperature",
        type=_non_negative_float,
        metavar="T",
        default=0.9,
        help="sampling temperature; 0 always picks the likeliest token",
    )
    gen.add_argument(
        "--top-p",
        type=_probability,
        metavar="P",
        default=1.0,
        help="nucleus sampling: draw only from the likeliest tokens holding this much "
        "probability (1 = off)",
    )
    gen.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="random seed (default: a fresh one, printed for reuse)",
    )
    gen.add_argument(
        "--beats-per-bar",
        type=_positive_float,
        metavar="QUARTERS",
        help="quarter notes per bar (default: the primer's time signature, else 4)",
    )
    gen.add_argument(
        "--device",
        default="cpu",
        metavar="DEVICE",
        help="where the model steps: cpu, cuda, or auto",
    )
    gen.add_argument(
        "-o", "--output", type=Path, metavar="OUT.mid", help="MIDI file to write (and/or --wav)"
    )
    gen.add_argument("--plot", type=Path, metavar="OUT.png", help="also draw a piano roll PNG")
    gen.add_argument(
        "--wav", type=Path, metavar="OUT.wav", help="render the same MIDI to audio with FluidSynth"
    )
    gen.add_argument(
        "--soundfont", type=Path, metavar="FILE.sf2",
        help="for --wav (default: FluidR3_GM, TimGM6mb or default-GM in /usr/share/sounds/sf2)",
    )  # fmt: skip
    add_harmonize(gen)
    gen.set_defaults(func=cmd_generate)

    info = sub.add_parser(
        "info",
        formatter_class=_Formatter,
        help="describe a checkpoint: codec, sizes, data, metrics",
        description=_para(
            "Describe a checkpoint without running it: codec and its parameters, ticks per "
            "quarter, its parts (yours and livegen's, or one stream), model sizes and parameter "
            "count, file size, training data, validation "
            "metrics, training time, and which step path this machine would use."
        ),
        epilog="examples:\n  livegen info folk_melody\n  livegen info runs/x/best.pt",
    )
    info.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="a shipped model's name or a checkpoint file"
    )
    info.add_argument(
        "--device", default="cpu", help="device to report the step path for: cpu, cuda, auto"
    )
    info.set_defaults(func=cmd_info)

    ports = sub.add_parser(
        "ports",
        formatter_class=_Formatter,
        help="list the MIDI input and output ports livegen can see",
        description=_para(
            "List the MIDI input and output ports a backend sees, to connect livegen to named "
            "ports instead of its virtual ones."
        ),
    )
    ports.add_argument(
        "--backend",
        default="auto",
        metavar="NAME",
        help="MIDI backend: auto, alsa, jack, coremidi or windows; auto picks ALSA on Linux "
        "(JACK when there is no ALSA sequencer), CoreMIDI on macOS",
    )
    ports.set_defaults(func=cmd_ports)

    run = sub.add_parser(
        "run",
        formatter_class=_Formatter,
        help="play live on virtual MIDI ports, headless, with a one-line status",
        description=_para(
            "Play live: listen on the MIDI input 'livegen in', keep the model's state tick by "
            "tick, and answer on 'livegen out'. Connect your DAW or keyboard to those ports "
            "(see the README). Ctrl-C ends the session with every note off.",
            "Settings come from --config (default configs/live.yaml), then these options.",
        ),
        epilog="examples:\n"
        "  livegen run\n"
        "  livegen run --checkpoint chorale_poly --mode accompany --bpm 96\n"
        "  livegen run --clock midi --connect --in-port 'Keystation' --out-port 'FLUID'\n"
        "  livegen run --start-jack     # no sound card or MIDI backend: a private JACK server",
    )
    _add_live_options(run)
    run.add_argument("--duration", type=_positive_float, metavar="S", help="stop after S seconds")
    run.set_defaults(func=cmd_run)

    panel = sub.add_parser(
        "panel",
        formatter_class=_Formatter,
        help="play live with the terminal control panel (what bare 'livegen' opens)",
        description=_para(
            "Play live, as 'livegen run' does, with a Textual control panel: ports, tempo, "
            "bar position, mode and phase, a piano roll of your notes and livegen's, step "
            "latency; keys for temperature, mode, tempo, model switch, panic, reset, "
            "regenerate, start/stop ('?' in the panel lists them all). 'livegen' with no "
            "command opens the panel and takes these same options.",
            "Settings come from --config (default configs/live.yaml), then the model, "
            "temperature and mode remembered from the last panel session (in the user's "
            "config folder, or $LIVEGEN_CONFIG_DIR), then these options.",
        ),
        epilog="examples:\n"
        "  livegen\n"
        "  livegen --checkpoint chorale_poly --mode accompany --bpm 96\n"
        "  livegen --start-jack          # no MIDI backend running: a private JACK server",
    )
    _add_live_options(panel)
    panel.set_defaults(func=cmd_panel)
    add_recover(sub, _Formatter)
    return parser


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    """The options of a live session, shared by ``run`` and ``panel``: one flag per
    :class:`~livegen.live_config.LiveConfig` field (``--top-p`` for ``top_p``), typed, limited to
    its choices and explained by the field's help; bools are on/off pairs (``--passthrough``,
    ``--no-passthrough``). A mapping such as ``cc`` is left to the YAML."""
    parser.add_argument("--config", type=Path, metavar="FILE.yaml", help="live settings YAML")
    for f, kind in _live_fields():
        flag = "--" + f.name.replace("_", "-")
        about = f.metadata["help"].replace("%", "%%")  # argparse %-formats help
        if kind is bool:
            shown = "on" if f.default else "off"
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, help=f"{about} (default: {shown})"
            )
            continue
        if f.name == "channel":  # numbered 1..16 here, as DAWs do; 0..15 in the YAML
            about, shown, parse, metavar = "output MIDI channel", f.default + 1, _channel, "1-16"
        else:
            shown, metavar = f.default, f.metadata.get("metavar")
            parse = {int: _whole, float: _real}.get(kind)
        if shown is not None:
            about += f" (default: {shown})"
        choices = f.metadata.get("choices")
        flags = (flag, *f.metadata.get("aliases", ()))  # --model for --checkpoint
        parser.add_argument(*flags, type=parse, choices=choices, metavar=metavar, help=about)
    parser.add_argument(
        "--connect",
        dest="virtual",
        action="store_const",
        const=False,
        help="open existing ports named by --in-port/--out-port instead of creating virtual "
        "ones (the same as --no-virtual)",
    )
    parser.add_argument(
        "--start-jack",
        action="store_true",
        help="if no MIDI backend is usable, start a private 'jackd -d dummy' server",
    )


def _live_fields() -> list[tuple[dataclasses.Field, type]]:
    """The LiveConfig fields that have a flag, with their value's type (``int | None``: int)."""
    from livegen.live_config import LiveConfig

    hints = typing.get_type_hints(LiveConfig)
    out = []
    for f in dataclasses.fields(LiveConfig):
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):  # int | None: the value's type is int
            kind = next(t for t in typing.get_args(kind) if t is not type(None))
        if kind in (bool, int, float, str):
            out.append((f, kind))
    return out


def _whole(text: str) -> int:
    return int(_number(text, int))


def _real(text: str) -> float:
    return float(_number(text))


def _number(text: str, kind: type = float) -> float:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _positive_int(text: str) -> int:
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def _probability(text: str) -> float:
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], not {text}")
    return value


# ---- the live commands ---------------------------------------------------------------------
def _channel(text: str) -> int:
    value = int(_number(text, int))
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"must be 1..16, not {value}")
    return value - 1  # MIDI's channels 1..16 are 0..15 on the wire


def _live_config(args: argparse.Namespace, remembered: dict | None = None):
    """configs/live.yaml (or --config), then ``remembered``, then --preset, then the flags."""
    from livegen.live_config import load_live_config

    config = args.config
    if config is None and LIVE_CONFIG.exists():
        config = LIVE_CONFIG
    flags = {f.name: getattr(args, f.name) for f, _ in _live_fields()}
    given = {k: v for k, v in flags.items() if v is not None}
    return load_live_config(config, remembered, **given)


def cmd_run(args: argparse.Namespace) -> int:
    # The engine runs in a process of its own (livegen/server.py); this one prints its status.
    from livegen.client import EngineClient
    from livegen.live import run_headless

    engine = EngineClient.open(_live_config(args), start_jack=args.start_jack)
    return run_headless(engine, duration=args.duration)


def cmd_panel(args: argparse.Namespace) -> int:
    # The panel is a client of the engine's process: no redraw can delay a tick.
    from livegen.client import EngineClient
    from livegen.tui.launch import make_app, run_panel

    def open_engine(remembered: dict) -> EngineClient:
        return EngineClient.open(_live_config(args, remembered), start_jack=args.start_jack)

    return run_panel(make_app(open_engine))


# ---- entry point -------------------------------------------------------------------------------
def _error_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    text = " ".join(str(error).split())
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``livegen``; returns the exit status (0 ok, 2 on an expected error)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["panel", *argv]  # bare `livegen [options]` opens the live panel
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "command", None) in ("run", "panel"):
        args = parser.parse_args(argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _EXPECTED as e:
        print(f"{PROG}: error: {_error_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
