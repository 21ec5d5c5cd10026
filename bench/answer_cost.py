"""Answer cost against primer length: livegen's carried state vs re-reading the primer.

The model has heard a primer of P ticks and must answer with the next 16 tokens (one
4/4 bar of 16th-note ticks in the melody codec), greedy, each answered token fed back.
Three ways to do it, on one CPU thread:

- livegen: the LSTM state already holds the primer (the Player steps every tick as it
  happens). An answer is a state fork plus 16 FusedStep steps: no cost depends on P.
- re-prime (Magenta-style): rebuild the state from zero by one batch forward over the
  whole primer (nn.LSTM, torch), then the same 16 FusedStep steps. The steps are
  livegen's own fused ones, so the difference from livegen is only the re-read.
- re-feed (tutorial notebook style): for each of the 16 tokens, one forward from zero
  state over the whole sequence so far (primer + tokens generated so far), last logits.

Costs are per answered token (one answer's time / 16); p99 is over answers. Every
(primer, method) cell runs a number of answers set by its cost, spread evenly over the
run and interleaved with the other cells, so that load from other processes hits all of
them alike. All three give the same greedy answer (checked). The primer is the essen-erk
test tunes laid end to end and encoded by the model's melody codec (music21 parses the
corpus once, about a minute, then it is cached), or random tokens with --primer random.
Writes bench/results/answer_cost.json and answer_cost.png (--quick: answer_cost_quick.*).
About 2 minutes; --quick about 20 s.

    .venv/bin/python bench/answer_cost.py [--quick] [--big] [--primer tunes|random]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from step_latency import machine  # noqa: E402

from livegen import checkpoint  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.steppers.fused import FusedStep  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402

PRIMERS = [16, 32, 64, 128, 256, 512, 1024, 2048]
QUICK_PRIMERS = [16, 64, 256, 512, 1024]
METHODS = ["livegen", "re-prime", "re-feed"]
ANSWER = 16  # tokens per answer: one bar of 16th-note ticks


class Methods:
    """The three ways to answer, over one model; each returns the answer's tokens."""

    def __init__(self, model: LSTMModel, primer: np.ndarray, answer: int) -> None:
        self.model = model
        self.answer = answer
        self.stepper = FusedStep(model)
        self.primer = primer
        self.primer_t = torch.as_tensor(primer, dtype=torch.long)[None]  # (1, P_max)
        self.fork = self.stepper.new_state()
        self.primed: dict[int, tuple[object, np.ndarray]] = {}

    def prime(self, p: int) -> None:
        """livegen's state after hearing the first p ticks, stepped as in live play."""
        state = self.stepper.new_state()
        for tok in self.primer[:p].tolist():
            logits = self.stepper(tok, state)
        self.primed[p] = (state, logits.numpy().copy())

    def _steps(self, logits: np.ndarray, state) -> list[int]:
        out = []
        for _ in range(self.answer):
            tok = int(np.argmax(logits))
            out.append(tok)
            logits = self.stepper(tok, state).numpy()  # fed back: the state stays current
        return out

    def livegen(self, p: int) -> list[int]:
        state, logits = self.primed[p]
        self.stepper.copy_state(self.fork, state)  # plan on a fork, as the Player does
        return self._steps(logits, self.fork)

    def reprime(self, p: int) -> list[int]:
        with torch.inference_mode():
            logits, st = self.model(self.primer_t[:, :p])  # (1, p, V), zero state
        self.stepper.copy_state(self.fork, st)
        return self._steps(logits[0, -1].numpy(), self.fork)

    def refeed(self, p: int) -> list[int]:
        seq = self.primer_t[:, :p]
        out = []
        with torch.inference_mode():
            for _ in range(self.answer):
                logits, _ = self.model(seq)  # (1, T, V) from zero state, every token
                tok = int(torch.argmax(logits[0, -1]))
                out.append(tok)
                seq = torch.cat([seq, torch.tensor([[tok]])], dim=1)
        return out

    def run(self, method: str, p: int) -> list[int]:
        return {"livegen": self.livegen, "re-prime": self.reprime, "re-feed": self.refeed}[method](
            p
        )


def primer_tokens(kind: str, codec, vocab: int, n: int, seed: int) -> tuple[np.ndarray, str]:
    if kind == "tunes":
        from livegen.data import load_pieces

        split = load_pieces("essen-erk", progress=False)
        seqs = [codec.encode(p.notes) for p in split.test]
        tokens = np.concatenate(seqs)
        if len(tokens) >= n:
            used = int(np.searchsorted(np.cumsum([len(s) for s in seqs]), n) + 1)
            return tokens[:n], f"essen-erk test tunes end to end ({used} tunes), melody codec"
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, n), "random tokens"


def plan_reps(cost_s: float, budget_s: float, lo: int, hi: int) -> int:
    return int(np.clip(round(budget_s / max(cost_s, 1e-9)), lo, hi))


def bench_model(label: str, model: LSTMModel, primer: np.ndarray, primers, args) -> list[dict]:
    m = Methods(model, primer, ANSWER)
    clock = time.perf_counter
    reps: dict[tuple[int, str], int] = {}
    agree = {}
    for p in primers:
        m.prime(p)
        answers = {}
        for method in METHODS:  # warm-up, cost estimate and the agreement check
            m.run(method, p)
            t0 = clock()
            answers[method] = m.run(method, p)
            cost = clock() - t0
            reps[p, method] = plan_reps(cost, args.cell_budget, args.min_reps, args.max_reps)
        agree[p] = len({tuple(a) for a in answers.values()}) == 1
    # Interleave: round r runs each cell whose evenly spread share falls in that round,
    # methods in a rotating order, so slow and fast cells see the same background load.
    times: dict[tuple[int, str], list[float]] = {k: [] for k in reps}
    rounds = max(reps.values())
    for r in range(rounds):
        for i, p in enumerate(primers):
            for j in range(len(METHODS)):
                method = METHODS[(r + i + j) % len(METHODS)]
                n = reps[p, method]
                if (r + 1) * n // rounds == r * n // rounds:
                    continue
                t0 = clock()
                m.run(method, p)
                times[p, method].append(clock() - t0)
    rows = []
    for p in primers:
        base = None
        for method in METHODS:
            us = np.asarray(times[p, method]) / ANSWER * 1e6  # per answered token
            row = {
                "model": label,
                "primer_ticks": p,
                "method": method,
                "answers": len(us),
                "answer_tokens": ANSWER,
                "p50_us_per_token": round(float(np.median(us)), 1),
                "p99_us_per_token": round(float(np.percentile(us, 99)), 1),
                "answers_agree": agree[p],
            }
            if method == "livegen":
                base = row["p50_us_per_token"]
            row["ratio_to_livegen"] = round(row["p50_us_per_token"] / base, 1)
            rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    cells = {(r["model"], r["primer_ticks"], r["method"]): r for r in rows}
    for model in dict.fromkeys(r["model"] for r in rows):
        print(f"\n{model}: microseconds per answered token ({ANSWER}-token answers), p50 / p99")
        head = f"{'primer':>7}" + "".join(f" {m:>19}" for m in METHODS)
        print(head + f" {'re-prime/lg':>12} {'re-feed/lg':>11} {'n (lg/rp/rf)':>14}")
        for p in dict.fromkeys(r["primer_ticks"] for r in rows if r["model"] == model):
            c = [cells[model, p, m] for m in METHODS]
            line = f"{p:>7}" + "".join(
                f" {x['p50_us_per_token']:>9.0f} /{x['p99_us_per_token']:>8.0f}" for x in c
            )
            n = "/".join(str(x["answers"]) for x in c)
            line += f" {c[1]['ratio_to_livegen']:>11.1f}x {c[2]['ratio_to_livegen']:>10.1f}x"
            print(line + f" {n:>14}" + ("" if c[0]["answers_agree"] else "  (answers differ)"))


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=120)
    styles = {"livegen": "o-", "re-prime": "s--", "re-feed": "^:"}
    for k, model in enumerate(models):
        for method in METHODS:
            sel = [r for r in rows if r["model"] == model and r["method"] == method]
            x = [r["primer_ticks"] for r in sel]
            y = [r["p50_us_per_token"] for r in sel]
            p99 = [r["p99_us_per_token"] for r in sel]
            name = {
                "livegen": "livegen (state carried, fused step)",
                "re-prime": "re-prime from zero state, then step",
                "re-feed": "re-feed whole sequence per token",
            }[method]
            line = ax.plot(x, y, styles[method], label=f"{name}" + (f" [{model}]" if k else ""))
            ax.fill_between(x, y, p99, color=line[0].get_color(), alpha=0.15)
    ax.set_xscale("log", base=2)
    ticks = sorted({r["primer_ticks"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel("primer length (ticks)")
    ax.set_ylabel(f"µs per answered token (median; band to p99)\n{ANSWER}-token answers")
    ax.set_title(f"Answer cost vs primer length ({', '.join(models)}, 1 CPU thread)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run, ~20 s")
    ap.add_argument("--big", action="store_true", help="also a random 3x512 model (slower)")
    ap.add_argument("--primer", choices=["tunes", "random"], default="tunes")
    ap.add_argument("--cell-budget", type=float, default=3.0, help="seconds per cell (about)")
    ap.add_argument("--min-reps", type=int, default=6, help="fewest answers per cell")
    ap.add_argument("--max-reps", type=int, default=400, help="most answers per cell")
    ap.add_argument("--out", type=Path, help="default bench/results/answer_cost[_quick].json")
    args = ap.parse_args()
    if args.out is None:
        args.out = ROOT / "bench" / "results" / f"answer_cost{'_quick' if args.quick else ''}.json"
    primers = PRIMERS
    if args.quick:
        primers, args.cell_budget, args.min_reps, args.max_reps = QUICK_PRIMERS, 0.4, 3, 100

    limit_threads(1)  # the live step runs on one core
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    loaded = checkpoint.load(checkpoint.resolve("folk_melody"))
    models = [("folk_melody 2x256", loaded.model)]
    if args.big:
        torch.manual_seed(0)
        cfg = ModelConfig(loaded.codec.vocab_size, n_layer=3, n_hidden=512)
        models.append(("random 3x512", LSTMModel(cfg).eval()))
    primer, primer_desc = primer_tokens(
        args.primer, loaded.codec, loaded.codec.vocab_size, max(primers), seed=0
    )
    rows = []
    for label, model in models:
        rows += bench_model(label, model, primer, primers, args)
    print_table(rows)
    seconds = time.perf_counter() - t_start

    summary = {}
    for label, _ in models:
        lg = [r for r in rows if r["model"] == label and r["method"] == "livegen"]
        at512 = {r["method"]: r for r in rows if r["model"] == label and r["primer_ticks"] == 512}
        p50s = [r["p50_us_per_token"] for r in lg]
        summary[label] = {
            "livegen_p50_max_over_min_across_primers": round(max(p50s) / min(p50s), 2),
            "ratio_at_512": {m: at512[m]["ratio_to_livegen"] for m in METHODS} if at512 else None,
        }
        print(f"{label}: livegen p50 max/min over primer lengths {max(p50s) / min(p50s):.2f}")
        if at512:
            print(
                f"{label}: at 512 ticks re-prime {at512['re-prime']['ratio_to_livegen']}x,"
                f" re-feed {at512['re-feed']['ratio_to_livegen']}x livegen's cost per token"
            )
    desc = machine()
    desc["load_avg_start"] = [round(x, 2) for x in load_start]
    desc["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "benchmark": "answer_cost",
        "command": "bench/answer_cost.py " + " ".join(sys.argv[1:]),
        "unit": f"microseconds per answered token; one answer = {ANSWER} greedy tokens fed back",
        "primer": primer_desc,
        "methods": {
            "livegen": "state carried (primed untimed); fork + 16 FusedStep steps",
            "re-prime": "zero state, nn.LSTM forward over the primer, then 16 FusedStep steps",
            "re-feed": "per token: nn.LSTM forward from zero state over primer + tokens so far",
        },
        "quick": args.quick,
        "seconds": round(seconds, 1),
        "machine": desc,
        "summary": summary,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    png = args.out.with_suffix(".png")
    plot(rows, png)
    print(f"wrote {args.out} and {png} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
