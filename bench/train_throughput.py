"""Training throughput: livegen's TBPTT loop vs the window-per-target loop, on the CPU.

Both train the folk_melody recipe's model (configs/folk_melody.yaml: 2x256 LSTM,
embedding 64, dropout 0.1, AdamW lr 2e-3 weight decay 0.01, gradient clip 1.0) on the
same data: the essen-erk training tunes encoded by the melody codec (music21 parses the
corpus once, about a minute, then it is cached).

- livegen: livegen/train.py's step. The tunes are dealt to 32 parallel streams
  (livegen.batches), cut into chunks of 64 ticks; the LSTM state is carried from chunk
  to chunk and every tick of a chunk is a target (livegen.train.chunk_loss).
- window-per-target (tutorial notebooks that predict only the last step): each target
  token gets the window of the 64 tokens before it (left-padded with REST at the start
  of a tune), read from zero state; a batch is 32 shuffled windows; the loss is on the
  last step only.

A "token" is a predicted target with a gradient: up to 32 x 64 per livegen step (less
the padding at tune ends), 32 per window step. The variants alternate in short segments
at 1 and at 2 torch threads, repeated, so that background load hits all of them alike;
rates are medians over segments. With 2 threads on a 2-core machine a busy other core
makes the second thread wait: the load average is recorded with the figures.
Also estimates the hours of one epoch of the full Essen collection at the 1-thread
rates. Writes bench/results/train_throughput.json. About 2.5 minutes; --quick ~20 s.

    .venv/bin/python bench/train_throughput.py [--quick] [--seconds 30] [--segment 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from step_latency import machine  # noqa: E402

from livegen import data  # noqa: E402
from livegen.batches import iterate_chunks, plan_streams  # noqa: E402
from livegen.codecs import make_codec  # noqa: E402
from livegen.config import load_config  # noqa: E402
from livegen.model import LSTMModel, ModelConfig  # noqa: E402
from livegen.threads import limit_threads  # noqa: E402
from livegen.train import chunk_loss  # noqa: E402

RECIPE = ROOT / "configs" / "folk_melody.yaml"
WINDOW = 64  # the tutorial window: as long as livegen's chunk
ESSEN_TUNES = 8462  # tunes in the full `essen` source


def make_model(cfg, vocab: int, seed: int) -> tuple[LSTMModel, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    m = cfg.model
    model = LSTMModel(ModelConfig(vocab, m.n_layer, m.n_hidden, m.n_embd, m.dropout)).train()
    t = cfg.train
    return model, torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)


class LivegenLoop:
    """livegen/train.py's inner loop: TBPTT chunks over streams, state carried."""

    name = "livegen TBPTT"

    def __init__(self, cfg, seqs: list[np.ndarray], vocab: int, seed: int) -> None:
        self.cfg = cfg.train
        self.seqs = seqs
        self.model, self.optim = make_model(cfg, vocab, seed)
        self.rng = np.random.default_rng(seed)
        self.chunks = iter(())
        self.state = None

    def _next_chunk(self):
        chunk = next(self.chunks, None)
        if chunk is None:  # a new epoch: new order, zero state
            t = self.cfg
            order = self.rng.permutation(len(self.seqs))
            streams = plan_streams([len(s) for s in self.seqs], order, t.batch_size, t.seq_len)
            self.chunks = iterate_chunks(self.seqs, streams, t.seq_len)
            self.state = self.model.initial_state(t.batch_size)
            chunk = next(self.chunks)
        return chunk

    def step(self) -> int:
        chunk = self._next_chunk()
        loss, self.state = chunk_loss(self.model, chunk, self.state, "cpu", nullcontext)
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optim.step()
        loss.item()
        return chunk.n_valid


class WindowLoop:
    """The notebook loop: one zero-state window of the previous W tokens per target."""

    name = "window-per-target"

    def __init__(self, cfg, seqs: list[np.ndarray], vocab: int, seed: int, pad: int) -> None:
        self.cfg = cfg.train
        self.model, self.optim = make_model(cfg, vocab, seed)
        self.rng = np.random.default_rng(seed)
        # Each tune behind W pad tokens in one flat array; target i's window is
        # flat[start_i : start_i + W] and its target flat[start_i + W].
        parts, starts, base = [], [], 0
        for s in seqs:
            parts += [np.full(WINDOW, pad, np.int64), s.astype(np.int64)]
            starts.append(base + np.arange(1, len(s)))  # targets s[1:], W tokens before each
            base += WINDOW + len(s)
        self.flat = np.concatenate(parts)
        self.starts = np.concatenate(starts)
        self.offsets = np.arange(WINDOW)
        self.order = np.empty(0, np.int64)
        self.pos = 0

    def step(self) -> int:
        b = self.cfg.batch_size
        if self.pos + b > len(self.order):  # a new epoch of shuffled targets
            self.order, self.pos = self.rng.permutation(self.starts), 0
        idx = self.order[self.pos : self.pos + b]
        self.pos += b
        x = torch.from_numpy(self.flat[idx[:, None] + self.offsets])  # (B, W)
        y = torch.from_numpy(self.flat[idx + WINDOW])  # (B,)
        m = self.model
        out, _ = m.lstm(m.embed(x))  # (B, W, H) from zero state
        loss = F.cross_entropy(m.head(m.drop(out[:, -1])), y)  # last step only
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), self.cfg.grad_clip)
        self.optim.step()
        loss.item()
        return b


def run_segment(loop, threads: int, seconds: float) -> dict:
    torch.set_num_threads(threads)
    clock = time.perf_counter
    tokens = steps = 0
    t0 = clock()
    while True:
        tokens += loop.step()
        steps += 1
        dt = clock() - t0
        if dt >= seconds:
            break
    return {"tokens": tokens, "steps": steps, "seconds": dt, "load_1min": os.getloadavg()[0]}


def essen_epoch_tokens(codec, erk_targets_per_tune: float) -> dict:
    """Training targets in one epoch of `essen`: counted if its cache is there, else estimated."""
    plan = data.sources.plan_source("essen", None, None)
    cache = data.cache.cache_file(None, plan.slug, plan.key)
    if cache.exists():
        split = data.load_pieces("essen", progress=False)
        lengths = [len(codec.encode(p.notes)) for p in split.train]
        return {
            "tunes": len(split.train) + len(split.valid) + len(split.test),
            "train_tunes": len(split.train),
            "train_targets": int(sum(max(n - 1, 0) for n in lengths)),
            "how": "counted (essen cache present), training split",
        }
    n_test = n_valid = round(0.1 * ESSEN_TUNES)
    train_tunes = ESSEN_TUNES - n_valid - n_test
    return {
        "tunes": ESSEN_TUNES,
        "train_tunes": train_tunes,
        "train_targets": int(round(train_tunes * erk_targets_per_tune)),
        "how": "estimated: essen not cached; essen-erk's targets per training tune "
        f"({erk_targets_per_tune:.1f}) x the 80% training split of {ESSEN_TUNES} tunes",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run, ~20 s")
    ap.add_argument("--seconds", type=float, default=30.0, help="timed seconds per variant")
    ap.add_argument("--segment", type=float, default=3.0, help="seconds per segment")
    ap.add_argument("--threads", default="1,2", help="torch thread counts to run")
    ap.add_argument("--out", type=Path, help="default bench/results/train_throughput[_quick].json")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.segment = 3.0, 1.0
    if args.out is None:
        name = f"train_throughput{'_quick' if args.quick else ''}.json"
        args.out = ROOT / "bench" / "results" / name
    thread_counts = [int(t) for t in args.threads.split(",")]
    limit_threads(1)  # BLAS and OpenMP at one thread; run_segment sets torch's per run

    load_start = os.getloadavg()
    t_start = time.perf_counter()
    cfg = load_config(str(RECIPE), [])
    codec = make_codec(cfg.codec.name, **cfg.codec.params)
    split = data.load_pieces(cfg.data.source, progress=False, seed=cfg.data.seed)
    seqs = [codec.encode(p.notes) for p in split.train]  # untransposed: same cost per token
    targets = sum(len(s) - 1 for s in seqs)
    loops = [
        LivegenLoop(cfg, seqs, codec.vocab_size, seed=0),
        WindowLoop(cfg, seqs, codec.vocab_size, seed=0, pad=codec.rest),
    ]
    for loop in loops:  # warm-up: allocator, first AdamW step, the threads
        for threads in thread_counts:
            run_segment(loop, threads, 0.5)

    cells = [(loop, th) for th in thread_counts for loop in loops]
    segs: dict[tuple[str, int], list[dict]] = {(lp.name, th): [] for lp, th in cells}
    rounds = max(1, round(args.seconds / args.segment))
    for r in range(rounds):
        for k in range(len(cells)):
            loop, threads = cells[(r + k) % len(cells)]  # rotate who goes first
            segs[loop.name, threads].append(run_segment(loop, threads, args.segment))
            print(".", end="", flush=True)
    print()
    seconds = time.perf_counter() - t_start

    rows = []
    for (name, threads), ss in segs.items():
        rates = np.array([s["tokens"] / s["seconds"] for s in ss])
        tok, sec = sum(s["tokens"] for s in ss), sum(s["seconds"] for s in ss)
        rows.append(
            {
                "loop": name,
                "threads": threads,
                "segments": len(ss),
                "steps": sum(s["steps"] for s in ss),
                "tokens": tok,
                "seconds": round(sec, 1),
                "tokens_per_s_median": round(float(np.median(rates)), 1),
                "tokens_per_s_min": round(float(rates.min()), 1),
                "tokens_per_s_max": round(float(rates.max()), 1),
                "tokens_per_s_overall": round(tok / sec, 1),
                "ms_per_step": round(1e3 * sec / sum(s["steps"] for s in ss), 1),
                "load_1min_during": round(float(np.mean([s["load_1min"] for s in ss])), 2),
            }
        )
    by = {(r["loop"], r["threads"]): r for r in rows}
    lg, win = loops[0].name, loops[1].name
    ratios = {
        f"{th}_thread": round(
            by[lg, th]["tokens_per_s_median"] / by[win, th]["tokens_per_s_median"], 1
        )
        for th in thread_counts
    }
    if 1 in thread_counts and 2 in thread_counts:
        for name in (lg, win):
            by[name, 2]["speedup_over_1_thread"] = round(
                by[name, 2]["tokens_per_s_median"] / by[name, 1]["tokens_per_s_median"], 2
            )

    print(f"{'loop':>18} {'threads':>7} {'tok/s p50':>10} {'min':>8} {'max':>8} {'ms/step':>8}")
    for r in rows:
        print(
            f"{r['loop']:>18} {r['threads']:>7} {r['tokens_per_s_median']:>10,.0f}"
            f" {r['tokens_per_s_min']:>8,.0f} {r['tokens_per_s_max']:>8,.0f}"
            f" {r['ms_per_step']:>8.1f}"
        )
    for th in thread_counts:
        print(f"livegen / window-per-target at {th} thread(s): {ratios[f'{th}_thread']}x")

    per_tune = targets / len(seqs)
    essen = essen_epoch_tokens(codec, per_tune)
    epoch = {"essen-erk train targets": targets, "essen-erk train tunes": len(seqs), **essen}
    if 1 in thread_counts:
        for name, key in ((lg, "hours_livegen_1_thread"), (win, "hours_window_1_thread")):
            rate = by[name, 1]["tokens_per_s_median"]
            epoch[key] = round(essen["train_targets"] / rate / 3600, 3)
        print(
            f"one epoch of essen ({essen['train_targets']:,} targets; {essen['how']}):"
            f" {epoch['hours_livegen_1_thread']:.3f} h livegen,"
            f" {epoch['hours_window_1_thread']:.2f} h window-per-target, 1 thread"
        )

    desc = machine()
    desc["threads"] = thread_counts  # torch threads, one row each
    desc["load_avg_start"] = [round(x, 2) for x in load_start]
    desc["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average start {desc['load_avg_start']}, end {desc['load_avg_end']}")
    result = {
        "benchmark": "train_throughput",
        "command": "bench/train_throughput.py " + " ".join(sys.argv[1:]),
        "unit": "tokens per second = predicted targets with a gradient per second",
        "recipe": str(RECIPE.relative_to(ROOT)),
        "model": {
            "n_layer": cfg.model.n_layer,
            "n_hidden": cfg.model.n_hidden,
            "n_embd": cfg.model.n_embd,
            "dropout": cfg.model.dropout,
            "vocab_size": codec.vocab_size,
        },
        "batch_size": cfg.train.batch_size,
        "seq_len": cfg.train.seq_len,
        "window": WINDOW,
        "data": f"{cfg.data.source} training split, melody codec, untransposed",
        "quick": args.quick,
        "segment_seconds": args.segment,
        "seconds": round(seconds, 1),
        "machine": desc,
        "ratio_livegen_over_window": ratios,
        "epoch_estimate": epoch,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
