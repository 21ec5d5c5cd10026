"""Musical checks: livegen's harmonizations of the held-out chorale melodies against Bach's own.

For every BL2012 *test* piece of the 16th-grid voices JSON, the model is given your part of
Bach's chorale (the soprano for chorale_harmony and chorale_bass; alto, tenor and bass for
chorale_melody) and plays its own part beside it offline, tick by tick as live
(``livegen.harmonize_offline``: seeded, seed + piece index). The same checks
(``livegen.harmony_checks``) then score livegen's version and Bach's, both restricted to the
voices the model deals in (chorale_bass: soprano and bass only, in Bach's version too):
notes in the key estimated from your part, consonant beats, parallel fifths and octaves
between soprano and bass on beats, notes outside their voice's range. The goal: each fault
rate at most 2x Bach's.

Which voices are yours and livegen's comes from ``--yours`` / ``--mine`` (letters of SATB),
else from the checkpoint's recipe (``data.parts``), else from its codec's part names.

Reading the grid: the JSON cannot tell a re-struck note from a held one, so a voice's note
is a run of one pitch (a new pitch or a rest ends it); livegen's part is put on the same grid
and read the same way. Your part goes in as those notes, 4 ticks per quarter. The JSON has
no meter: a metric model is told 4/4 with the piece's last step ending a bar (``--phase
end``; most pieces are 4 steps longer than whole bars, a quarter-note pickup), or with the
first starting one (``--phase start``). Writes the model's entry
(by file name) in bench/results/musical_checks.json (``--out``), keeping other models'.
About 20-45 s per model for a 1 x 128 LSTM on one thread.

    .venv/bin/python bench/musical_checks.py          # checkpoints/chorale_harmony.pt
    .venv/bin/python bench/musical_checks.py --model chorale_bass --temperature 0.8
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from step_latency import machine  # noqa: E402

from livegen import checkpoint  # noqa: E402
from livegen import harmony_checks as hc  # noqa: E402
from livegen.codecs import PartsCodec  # noqa: E402
from livegen.data.sources import steps_to_notes  # noqa: E402
from livegen.errors import LivegenError  # noqa: E402
from livegen.harmonize_offline import harmonize  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from livegen.voice_guards import ALL, GuardChoice  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "jsb_chorales_16th_voices.json"
parse_voices = hc.parse_voices  # the guards read a codec's part names the same way


def voices_of(loaded, yours: str | None, mine: str | None) -> tuple[tuple[int, ...], ...]:
    if not isinstance(loaded.codec, PartsCodec):
        raise LivegenError(
            f"{loaded.path.name} is a {loaded.codec.name} model: the checks need a parts model "
            "(chorale_harmony, chorale_bass, chorale_melody)"
        )
    if yours or mine:  # the flags: both, and meaning what they say
        vy, vm = parse_voices(yours or ""), parse_voices(mine or "")
        if not vy or not vm or set(vy) & set(vm):
            raise LivegenError(
                f"--yours {yours} --mine {mine}: give both, as distinct SATB letters (S, ATB)"
            )
        return vy, vm
    parts = ((loaded.meta.get("config") or {}).get("data") or {}).get("parts") or {}
    for y, m in ((parts.get("yours"), parts.get("mine")), loaded.codec.parts()):
        vy, vm = parse_voices(y or ""), parse_voices(m or "")
        if vy and vm and not set(vy) & set(vm):
            return vy, vm
    raise LivegenError(
        f"{loaded.path.name}: cannot tell which of S, A, T, B are yours and livegen's; "
        "say so with --yours S --mine ATB"
    )


GUARDS = ("range", "key", "parallels", "consonance", "under")


def guard_choice(text: str, key_after: int) -> GuardChoice | None:
    """``on``, ``off`` or a comma list of guard names as the harmonizer's guards."""
    if text == "off":
        return None
    names = set(GUARDS) if text == "on" else {w.strip() for w in text.split(",")}
    if not names <= set(GUARDS):
        raise LivegenError(f"--guards {text}: on, off or some of {','.join(GUARDS)}")
    return GuardChoice(**{g: g in names for g in GUARDS}, key_after=key_after)


def entry_name(result: dict) -> str:
    """A run's entry in the JSON: the model, its guards, and the split when not test."""
    name = f"{Path(result['model']).stem}, guards {result['guards']}"
    if result["key_after"] != ALL.key_after:
        name += f", key after {result['key_after']}"
    if result["temperature"] != 0.9:
        name += f", temperature {result['temperature']:g}"
    return name if result["split"] == "test" else f"{name}, {result['split']}"


def only(grid: np.ndarray, voices: tuple[int, ...]) -> np.ndarray:
    out = np.full_like(grid, hc.REST)
    out[:, list(voices)] = grid[:, list(voices)]
    return out


def run(args: argparse.Namespace) -> dict:
    limit_threads(1)
    loaded = checkpoint.load(checkpoint.resolve(args.model))
    yours, mine = voices_of(loaded, args.yours, args.mine)
    pieces = json.loads(Path(args.data).read_text())[args.split][: args.limit]
    bach = ours = hc.Counts()
    per_piece = []
    crowded = 0  # steps at which livegen sounded more notes than it has voices
    fallbacks = 0  # tokens the guards could not guard (the grammar alone decided)
    steps = sum(len(p) for p in pieces)
    t0 = time.perf_counter()
    for i, piece in enumerate(pieces):
        grid = only(hc.as_grid(piece), (*yours, *mine))
        your_notes = steps_to_notes([[s[v] for v in yours] for s in grid], 1 / hc.STEPS_PER_BEAT)
        # The JSON has no meter: 4/4, and (--phase end) its last step ends a bar, so that a
        # piece of 4 steps more than whole bars (51 of the 77 test pieces) opens with a pickup.
        first_tick = -len(grid) % 16 if args.phase == "end" else 0
        done = harmonize(
            loaded,
            your_notes,
            temperature=args.temperature,
            seed=args.seed + i,
            beats_per_bar=4,
            first_tick=first_tick,
            guards=args.guard_choice,
        )
        theirs = grid.copy()
        theirs[:, list(mine)] = hc.notes_on_grid(done.mine, len(grid), mine)[:, list(mine)]
        crowded += hc.crowded_steps(done.mine, len(grid), len(mine))
        fallbacks += done.fallbacks
        counts_bach = hc.check(grid, yours, mine)
        counts_ours = hc.check(theirs, yours, mine)
        bach, ours = bach + counts_bach, ours + counts_ours
        per_piece.append([list(vars(counts_bach).values()), list(vars(counts_ours).values())])
        if args.verbose:
            print(f"piece {i:3d}: {hc.estimate_key(grid, yours)}, {counts_ours}", flush=True)
    seconds = time.perf_counter() - t0
    verdicts = hc.compare(bach, ours, args.factor)
    return {
        "model": str(loaded.path),
        "codec": loaded.codec.describe(),
        "yours": [hc.VOICES[v] for v in yours],
        "mine": [hc.VOICES[v] for v in mine],
        "data": str(args.data),
        "split": args.split,
        "pieces": len(pieces),
        "temperature": args.temperature,
        "seed": args.seed,
        "factor": args.factor,
        "phase": args.phase,
        "guards": args.guards,
        "key_after": args.key_after,
        "ranges": {hc.VOICES[v]: list(r) for v, r in hc.RANGES.items()},
        "bach": {"counts": vars(bach), "rates": bach.rates()},
        "livegen": {"counts": vars(ours), "rates": ours.rates()},
        "verdicts": [vars(v) for v in verdicts],
        "steps": steps,
        "crowded_steps": crowded,
        "guard_fallbacks": fallbacks,
        "all_passed": all(v.passed is not False for v in verdicts),
        "seconds": round(seconds, 1),
        "machine": machine(),
        "per_piece": {"fields": list(vars(bach)), "bach_then_livegen": per_piece},
    }


def show(result: dict) -> None:
    def cell(x: float | None, fmt: str = "{:.2f}") -> str:
        return "-" if x is None else fmt.format(x)

    print(
        f"{Path(result['model']).name} ({result['codec']}): you {'+'.join(result['yours'])}, "
        f"livegen {'+'.join(result['mine'])}; {result['pieces']} {result['split']} pieces, "
        f"temperature {result['temperature']:g}, guards {result['guards']}, "
        f"seeds {result['seed']}+, {result['seconds']} s"
    )
    b, o = result["bach"]["counts"], result["livegen"]["counts"]
    print(
        f"counted: Bach {b['notes']} notes, {b['beats']} beats; "
        f"livegen {o['notes']} notes, {o['beats']} beats"
    )
    print(f"{'figure (faults: lower is better)':36} {'Bach':>8} {'livegen':>8} {'ratio':>7}  goal")
    for v in result["verdicts"]:
        verdict = {True: "pass", False: "FAIL", None: "n/a"}[v["passed"]]
        ratio = cell(v["ratio"], "{:.2f}x") if v["bach"] else "(Bach 0)"
        figures = f"{cell(v['bach']):>8} {cell(v['livegen']):>8} {ratio:>7}"
        print(f"{v['figure']:36} {figures}  {verdict}")
    if result["crowded_steps"]:
        print(
            f"livegen sounded more notes than its {len(result['mine'])} voice(s) at "
            f"{result['crowded_steps']} of {result['steps']} steps: its highest and lowest were "
            "judged, the notes between them not"
        )
    if result["guard_fallbacks"]:
        print(f"the guards allowed nothing the grammar did at {result['guard_fallbacks']} tokens")
    verdict = "every figure within" if result["all_passed"] else "not every figure within"
    print(f"goal: {verdict} {result['factor']:g}x of Bach's")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "checkpoints" / "chorale_harmony.pt"))
    ap.add_argument("--data", type=Path, default=DATA, help="the BL2012 16th-grid voices JSON")
    ap.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ap.add_argument("--temperature", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0, help="piece i is harmonized with seed + i")
    ap.add_argument("--yours", help="your voices as SATB letters (default: from the checkpoint)")
    ap.add_argument("--mine", help="livegen's voices as SATB letters (default: from it)")
    ap.add_argument(
        "--phase",
        default="end",
        choices=("end", "start"),
        help="where bar lines fall for a metric model (4/4): the last step ends a bar, or the "
        "first starts one",
    )
    ap.add_argument(
        "--guards",
        default="on",
        help="livegen's sampling guards (livegen/voice_guards.py): on, off, or some of "
        + ",".join(GUARDS),
    )
    ap.add_argument("--key-after", type=int, default=ALL.key_after, help="the key guard's wait")
    ap.add_argument("--factor", type=float, default=2.0, help="the goal: faults <= factor x Bach's")
    ap.add_argument("--limit", type=int, help="only the first N pieces (a quick look)")
    ap.add_argument("--verbose", action="store_true", help="a line per piece")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "musical_checks.json")
    args = ap.parse_args()
    try:
        args.guard_choice = guard_choice(args.guards, args.key_after)
        result = run(args)
    except (LivegenError, OSError) as e:
        sys.exit(f"musical_checks: {e}")
    show(result)
    # One file for every model checked: each run replaces its own model's entry only.
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {"models": {}}
    saved["models"][entry_name(result)] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(saved, indent=1)
    # Innermost lists (a piece's counts, the ranges) on one line each: a short, diffable file.
    text = re.sub(r"\[[^\[\]{}]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({entry_name(result)})")


if __name__ == "__main__":
    main()
