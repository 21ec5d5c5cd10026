"""The commands that need no live session: ``generate``, ``info`` and ``ports``.

Their flags and help are in :mod:`livegen.cli` with every other command's; these are what
they do. As there, torch and the model load inside the command, not at import.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

from livegen.cli_harmonize import cmd_harmonize
from livegen.errors import CliError
from livegen.paths import default_primer


def check_outputs(args: argparse.Namespace, what: str):
    """Fail before the work, not after it: where ``generate`` writes ``what``, and with
    ``--wav`` FluidSynth and a soundfont. Returns the soundfont (None without ``--wav``)."""
    if args.output is None and args.wav is None:
        raise CliError(f"say where to write the {what}: -o OUT.mid, --wav OUT.wav or both")
    for out in (args.output, args.plot, args.wav):
        if out is not None and not out.parent.is_dir():
            raise CliError(f"{out}: cannot write there, folder {out.parent} does not exist")
    if args.wav is None:
        return None
    from livegen.synth import find_fluidsynth, find_soundfont

    find_fluidsynth()
    return find_soundfont(args.soundfont)


def cmd_generate(args: argparse.Namespace) -> int:
    if args.harmonize is not None:  # a part beside a file rather than after it
        return cmd_harmonize(args)
    from livegen import checkpoint
    from livegen.device import resolve_device
    from livegen.generate import continue_piece
    from livegen.midifile import read_midi, write_midi
    from livegen.threads import limit_threads

    # One thread: a batch-1 step is latency-bound, and extra threads only add overhead.
    limit_threads(1)
    device = resolve_device(args.device)
    soundfont = check_outputs(args, "continuation")
    path = checkpoint.resolve(args.checkpoint)
    loaded = checkpoint.load(path, device="cpu")
    codec = loaded.codec
    primer_path = args.primer or default_primer(codec.name)
    score = read_midi(primer_path)
    if len(score.notes) == 0:
        raise CliError(f"{primer_path}: the primer has no notes (drums on channel 10 are skipped)")
    beats_per_bar = args.beats_per_bar or score.beats_per_bar
    # A drawn seed is printed, so a continuation worth keeping can be made again.
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)

    primer, continuation = continue_piece(
        loaded,
        score.notes,
        bars=args.bars,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=seed,
        beats_per_bar=beats_per_bar,
        device=device,
    )
    with tempfile.TemporaryDirectory(prefix="livegen-") as scratch:
        # --wav alone still renders the same file -o would write.
        midi_path = args.output or Path(scratch) / f"{args.wav.stem}.mid"
        write_midi(midi_path, primer, continuation, bpm=score.bpm, beats_per_bar=beats_per_bar)
        if args.wav is not None:
            from livegen.synth import render_wav

            render_wav(midi_path, args.wav, soundfont)
    print(
        f"{path.name} ({codec.describe()}) continued {primer_path.name} "
        f"for {args.bars} bar{'s' if args.bars > 1 else ''} "
        f"at temperature {args.temperature:g}, seed {seed}"
    )
    n_primer, n_continued = len(primer), len(continuation)
    for written in (args.output, args.wav):
        if written is not None:
            what = f"wrote {written}: primer {n_primer} notes, continuation {n_continued} notes"
            print(what + (f" (soundfont {soundfont.name})" if written == args.wav else ""))
    if args.plot:
        from livegen.plot import plot_pianoroll

        title = f"{path.stem} ({codec.name}) after {primer_path.name}"
        title += f", temperature {args.temperature:g}, seed {seed}"
        plot_pianoroll(primer, continuation, args.plot, title=title, beats_per_bar=beats_per_bar)
        print(f"wrote {args.plot}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from livegen import checkpoint
    from livegen.device import resolve_device
    from livegen.steppers import make_stepper
    from livegen.threads import limit_threads

    limit_threads(1)  # as on the live path: make_stepper may step the model to check int8
    loaded = checkpoint.load(checkpoint.resolve(args.checkpoint), device="cpu")
    device = resolve_device(args.device)
    stepper = make_stepper(loaded.model, device)
    info = checkpoint.summary(loaded)
    print("\n".join(_info_lines(info, loaded.meta, getattr(stepper, "name", "?"), device)))
    return 0


def _style_lines(styles: tuple[str, ...]) -> list[tuple[str, str]]:
    """A style model's styles by number, as ``--style`` and the panel's ``s`` take them."""
    if not styles:
        return []
    listed = ", ".join(f"{i} {name}" for i, name in enumerate(styles))
    return [("styles", f"{listed}  (livegen run --style N; the panel's s, S, < and >)")]


def _info_lines(info: dict, meta: dict, step_path: str, device: str) -> list[str]:
    """``checkpoint.summary`` as aligned lines; absent values are left out, not shown as None."""
    params = ", ".join(f"{k}={v}" for k, v in info["codec_params"].items())
    low, high = info["pitch_range"]
    lines = [
        ("model", f"{info['name']}  ({info['path']}, {_size(info['file_size'])})"),
        ("codec", f"{info['codec']}({params})"),
        ("grid", f"{info['ticks_per_quarter']} ticks per quarter, pitches {low}..{high}"),
        ("parts", info["roles"].details()),
        *_style_lines(info["styles"]),
        (
            "sizes",
            f"vocabulary {info['vocab_size']}, {info['n_layer']} layers x {info['n_hidden']} "
            f"hidden, embedding {info['n_embd']}",
        ),
        ("parameters", f"{info['parameters']:,}"),
    ]
    data = meta.get("data") or {}
    source = info.get("data_source")
    if source:
        text = str(source)
        pieces = info.get("pieces")
        if isinstance(pieces, dict):
            text += " (" + ", ".join(f"{v} {k}" for k, v in pieces.items()) + " pieces)"
        elif pieces is not None:
            text += f" ({pieces} pieces)"
        if data.get("transpose"):
            text += f", transposed +-{data['transpose']}"
        lines.append(("data", text))
    scores = []
    unit = info.get("nll_unit") or "nats"
    for key, label in (
        ("val_nll", "val NLL"),
        ("val_acc", "val accuracy"),
        ("test_nll", "test NLL"),
    ):
        if info.get(key) is not None:
            scores.append(f"{label} {info[key]:.4f}")
    if scores:
        epoch = f" (best epoch {info['best_epoch']})" if info.get("best_epoch") is not None else ""
        lines.append(("metrics", f"{', '.join(scores)}{epoch}; NLL in {unit}"))
    if info.get("train_seconds") is not None:
        machine = (meta.get("metrics") or {}).get("machine")
        lines.append(
            ("training", _duration(info["train_seconds"]) + (f" on {machine}" if machine else ""))
        )
    made = [str(info[k]) for k in ("created", "livegen_version") if info.get(k)]
    if made:
        lines.append(("written", " by livegen ".join(made)))
    lines.append(("step path", f"{step_path} (device {device}, this machine)"))
    width = max(len(k) for k, _ in lines) + 2
    return [f"{k + ':':<{width}}{v}" for k, v in lines]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    if n < 1024:
        return f"{n} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.1f} MiB"


def cmd_ports(args: argparse.Namespace) -> int:
    from livegen.midi_io import list_ports

    ports = list_ports(args.backend)
    for direction in ("inputs", "outputs"):
        names = ports.get(direction) or []
        print(f"{direction}:")
        print("\n".join(f"  {name}" for name in names) if names else "  (none)")
    return 0
