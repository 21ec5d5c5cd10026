"""``livegen generate --harmonize YOURS.mid``: a parts model plays its part beside a MIDI file.

The flag lives on ``generate`` (the offline command) since the output is the same kind of
file: your part on track 1, livegen's on track 2. What the harmonization is and how it is
stepped is :mod:`livegen.harmonize_offline`; this is the command around it.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

from livegen.errors import CliError


def add_harmonize(gen: argparse.ArgumentParser) -> None:
    gen.add_argument(
        "--harmonize",
        type=Path,
        metavar="YOURS.mid",
        help="instead of continuing a primer, play a parts model's part beside this file's "
        "notes (your part, e.g. a melody for chorale_harmony), tick by tick as live; "
        "--bars does not apply",
    )
    gen.add_argument(
        "--guards",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="--harmonize: the parts model's sampling guards, as live (its voices' ranges, the "
        "key, no parallel 5ths/8ves with yours, chords on the beats, sounding under your "
        "strikes; default: on)",
    )


def cmd_harmonize(args: argparse.Namespace) -> int:
    from livegen import checkpoint
    from livegen.cli_offline import check_outputs
    from livegen.device import resolve_device
    from livegen.harmonize_offline import harmonize
    from livegen.midifile import read_midi, write_midi
    from livegen.threads import limit_threads
    from livegen.voice_guards import guards_for

    if args.primer is not None:
        raise CliError("--harmonize plays beside a file and --primer continues one: give one")
    soundfont = check_outputs(args, "harmonization")
    limit_threads(1)  # a batch-1 step is latency-bound: more threads only add overhead
    device = resolve_device(args.device)
    path = checkpoint.resolve(args.checkpoint)
    loaded = checkpoint.load(path, device="cpu")
    score = read_midi(args.harmonize)
    if len(score.notes) == 0:
        raise CliError(f"{args.harmonize}: no notes to harmonize (drums on channel 10 are skipped)")
    beats_per_bar = args.beats_per_bar or score.beats_per_bar
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)  # printed: reusable
    done = harmonize(
        loaded,
        score.notes,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=seed,
        beats_per_bar=beats_per_bar,
        device=device,
        guards=guards_for(args.guards),
    )
    codec = loaded.codec
    names = (f"you: {codec.yours}", f"livegen: {codec.mine}")
    with tempfile.TemporaryDirectory(prefix="livegen-") as scratch:
        midi_path = args.output or Path(scratch) / f"{args.wav.stem}.mid"
        bpm = score.bpm
        write_midi(
            midi_path, done.yours, done.mine, bpm=bpm, beats_per_bar=beats_per_bar, names=names
        )
        if args.wav is not None:
            from livegen.synth import render_wav

            render_wav(midi_path, args.wav, soundfont)
    print(
        f"{path.name} ({codec.describe()}) harmonized {args.harmonize.name} "
        f"at temperature {args.temperature:g}, seed {seed}, guards {'on' if args.guards else 'off'}"
    )
    if done.chords:
        cap = codec.your_part.max_notes
        takes = "one note" if cap == 1 else f"{cap} notes"
        print(
            f"your part ({codec.yours}) takes {takes} at a time: at {done.chords} tick(s) it "
            "held more, and the highest were kept"
        )
    for written in (args.output, args.wav):
        if written is not None:
            print(
                f"wrote {written}: track 1 your part ({codec.yours}) {len(done.yours)} notes, "
                f"track 2 livegen's ({codec.mine}) {len(done.mine)} notes"
            )
    if args.plot:
        from livegen.plot import plot_pianoroll

        title = f"{path.stem}: {codec.mine} beside {args.harmonize.name}"
        title += f", temperature {args.temperature:g}, seed {seed}"
        plot_pianoroll(done.yours, done.mine, args.plot, title=title, beats_per_bar=beats_per_bar)
        print(f"wrote {args.plot}")
    return 0
