"""The training loop: corpus -> codec tokens -> truncated BPTT on the LSTM -> checkpoint.

``python train.py --config configs/<recipe>.yaml [--key=value ...]`` lands in :func:`main`.
One model class and one codec object serve training and live play alike, so what is
learnt here is what the Player steps. Runs under ``torchrun`` use DistributedDataParallel.

This module is the epoch loop only; its parts live beside it: one step's loss and learning
rate in :mod:`livegen.train_step`, the validation and test scores in
:mod:`livegen.evaluation`, what the run writes next to its checkpoint in
:mod:`livegen.run_record`, and torchrun's ranks in :mod:`livegen.distributed`.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from livegen import checkpoint, distributed, run_record
from livegen.batches import iterate_chunks, plan_streams
from livegen.codecs import make_codec
from livegen.config import TrainConfig, load_config
from livegen.data import DataError, Split, load_pieces
from livegen.data.parts import parts_loader
from livegen.data.styles import style_loader
from livegen.device import DeviceError
from livegen.encoded import Encoded
from livegen.evaluation import evaluate
from livegen.model import LSTMModel, ModelConfig
from livegen.recipe import ConfigError, to_dict
from livegen.run_record import plot_losses
from livegen.threads import limit_threads
from livegen.train_step import chunk_loss, init_head_bias, lr_at

# Importable from here as before the loop's parts had modules of their own (bench/ and
# tests import them from livegen.train). The loop calls ``evaluate`` and ``load_pieces``
# through this module's names, so a test's monkeypatch of either still reaches it.
__all__ = [
    "Encoded",
    "chunk_loss",
    "evaluate",
    "init_head_bias",
    "load_pieces",
    "lr_at",
    "main",
    "plot_losses",
    "train",
]


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True) -> dict:
    """Train one recipe; returns the metrics that are also written next to the checkpoint."""
    from tqdm import tqdm

    t_cfg = cfg.train
    world, rank, device = distributed.start(t_cfg.device)
    main_proc = rank == 0
    if t_cfg.threads:
        limit_threads(t_cfg.threads)
    torch.manual_seed(t_cfg.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    codec = make_codec(cfg.codec.name, **cfg.codec.params)
    load = load_pieces if cfg.data.parts is None else parts_loader(codec, cfg.data.parts)
    if cfg.data.styles:
        load = style_loader(cfg.data.styles, cfg.data.style_balance)
    n_styles = len(cfg.data.styles or ())
    split: Split = load(
        cfg.data.source,
        cache_dir=cfg.data.cache_dir,
        seed=cfg.data.seed,
        limit=cfg.data.limit,
        progress=progress and main_proc,
        step_quarters=cfg.data.step_quarters,
    )
    if not split.train or not split.valid:
        raise DataError(
            f"{cfg.data.source}: too few pieces to split into training and validation sets"
        )
    shifts = list(range(-cfg.data.transpose, cfg.data.transpose + 1)) or [0]
    lead, bpb = cfg.data.lead_in, cfg.data.beats_per_bar
    train_set = Encoded(codec, split.train, shifts, lead, bpb)
    valid_set = Encoded(codec, split.valid, [0], lead, bpb)
    valid_seqs = valid_set.plain()
    valid_pos = valid_set.positions(valid_seqs) if cfg.model.metric else None
    valid_styles = valid_set.style_inputs(n_styles)

    model_cfg = ModelConfig(
        vocab_size=codec.vocab_size,
        n_layer=cfg.model.n_layer,
        n_hidden=cfg.model.n_hidden,
        n_embd=cfg.model.n_embd,
        dropout=cfg.model.dropout,
        frame_input=codec.head == "sigmoid",
        metric=cfg.model.metric,
        metric_tpq=codec.ticks_per_quarter,
        styles=tuple(cfg.data.styles or ()),
    )
    model = LSTMModel(model_cfg)
    init_head_bias(model, train_set.plain())
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    net = distributed.wrap(model, device, world)
    optim = torch.optim.AdamW(model.parameters(), lr=t_cfg.lr, weight_decay=t_cfg.weight_decay)
    use_amp = t_cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    def amp():
        return torch.autocast("cuda", dtype=torch.float16, enabled=use_amp)

    out = Path(t_cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    best_path = out / f"{t_cfg.name}.pt"
    resume_path = out / f"{t_cfg.name}.resume.pt"
    rng = np.random.default_rng(t_cfg.seed)
    history: list[dict] = []
    best = {"nll": float("inf"), "epoch": -1}
    start_epoch, step, elapsed = 0, 0, 0.0
    if resume:
        history, best, start_epoch, step, elapsed = run_record.load_resume(
            resume_path, model, optim, rng
        )
        if main_proc:
            print(f"resuming {resume_path} at epoch {start_epoch + 1}", file=sys.stderr)

    # Steps per epoch do not depend much on the order; estimate once for the schedule.
    lengths = [len(s) for s in train_set.plain()]
    est_steps = (
        len(plan_streams(lengths, np.arange(len(lengths)), t_cfg.batch_size, t_cfg.seq_len)[0]) or 1
    )
    est_steps = math.ceil(est_steps / world)
    total_steps = est_steps * t_cfg.epochs
    bad_epochs = 0
    for epoch in range(start_epoch, t_cfg.epochs):
        t0 = time.perf_counter()
        seqs = train_set.epoch(rng)
        order = rng.permutation(len(seqs))[rank::world]
        streams = plan_streams([len(s) for s in seqs], order, t_cfg.batch_size, t_cfg.seq_len)
        n_steps = distributed.agree_steps(max((len(s) for s in streams), default=0), device, world)
        state = model.initial_state(t_cfg.batch_size, device)
        loss_sum, tok_sum = 0.0, 0
        bar = tqdm(
            iterate_chunks(
                seqs,
                streams,
                t_cfg.seq_len,
                n_steps,
                train_set.positions(seqs) if cfg.model.metric else None,
                train_set.style_inputs(n_styles),
            ),
            total=n_steps,
            desc=f"epoch {epoch + 1}/{t_cfg.epochs}",
            disable=not (progress and main_proc),
            leave=False,
            dynamic_ncols=True,
        )
        for chunk in bar:
            for group in optim.param_groups:
                group["lr"] = lr_at(step, total_steps, t_cfg)
            loss, state = chunk_loss(net, chunk, state, device, amp, t_cfg.grad_checkpoint)
            optim.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optim)
            torch.nn.utils.clip_grad_norm_(model.parameters(), t_cfg.grad_clip)
            scaler.step(optim)
            scaler.update()
            step += 1
            loss_sum += loss.item() * chunk.n_valid
            tok_sum += chunk.n_valid
            bar.set_postfix(loss=f"{loss_sum / max(tok_sum, 1):.3f}")
        seconds = time.perf_counter() - t0
        elapsed += seconds
        val = evaluate(model, valid_seqs, device, positions=valid_pos, styles=valid_styles)
        row = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / max(tok_sum, 1),
            "val_nll": val["nll"],
            "val_acc": val["acc"],
            "lr": optim.param_groups[0]["lr"],
            "seconds": seconds,
            "tokens_per_s": tok_sum * world / max(seconds, 1e-9),
        }
        history.append(row)
        improved = val["nll"] < best["nll"]
        if improved:
            best = {"nll": val["nll"], "acc": val["acc"], "epoch": epoch + 1}
            bad_epochs = 0
        else:
            bad_epochs += 1
        if main_proc:
            print(
                f"epoch {epoch + 1:3d}  train {row['train_loss']:.4f}  val nll {val['nll']:.4f}"
                f"  acc {val['acc']:.4f}  {row['tokens_per_s']:,.0f} tok/s  {seconds:.1f}s"
                + ("  *" if improved else ""),
                file=sys.stderr,
            )
            meta = run_record.describe(cfg, split, n_params, history, best, elapsed, device, world)
            if improved:
                checkpoint.save(
                    best_path,
                    model,
                    codec,
                    data=meta["data"],
                    config=to_dict(cfg),
                    metrics=meta["metrics"],
                )
            run_record.save_resume(
                resume_path,
                model,
                optim,
                rng,
                history=history,
                best=best,
                epoch=epoch,
                step=step,
                elapsed=elapsed,
            )
        if t_cfg.patience and bad_epochs >= t_cfg.patience:
            if main_proc:
                print(f"no improvement for {bad_epochs} epochs: stopping", file=sys.stderr)
            break

    metrics: dict = {}
    if main_proc:
        # The test split is read once, with the best-validation weights (unless a tuning run).
        loaded = checkpoint.load(best_path, device=str(device))
        test_set = Encoded(codec, split.test if t_cfg.read_test else [], [0], lead, bpb)
        test_seqs = test_set.plain()
        test_pos = test_set.positions(test_seqs) if cfg.model.metric else None
        test_styles = test_set.style_inputs(n_styles)
        test = (
            evaluate(loaded.model, test_seqs, device, positions=test_pos, styles=test_styles)
            if test_seqs
            else {}
        )
        meta = run_record.describe(cfg, split, n_params, history, best, elapsed, device, world)
        metrics = meta["metrics"]
        if test:
            metrics["test_nll"], metrics["test_acc"] = test["nll"], test["acc"]
        checkpoint.save(
            best_path, loaded.model, codec, data=meta["data"], config=to_dict(cfg), metrics=metrics
        )
        run_record.write_metrics(out / f"{t_cfg.name}.metrics.json", metrics, meta["data"], history)
        plot_losses(history, out / f"{t_cfg.name}.loss.png", title=t_cfg.name)
        tested = f"test nll {metrics['test_nll']:.4f}" if test else "test not read"
        print(
            f"best val nll {best['nll']:.4f} at epoch {best['epoch']}; {tested}; wrote {best_path}",
            file=sys.stderr,
        )
    distributed.stop(world)
    return metrics


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train a livegen model. A YAML recipe sets everything; --section.key=value"
        " (or --key=value when the name is unique) overrides single fields.",
        epilog="example: python train.py --config configs/folk_melody.yaml --train.epochs=5",
    )
    parser.add_argument("--config", help="recipe YAML (configs/*.yaml)")
    parser.add_argument("--resume", action="store_true", help="continue the run in train.out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args, overrides = parser.parse_known_args(argv)
    try:
        cfg = load_config(args.config, overrides)
        if not cfg.train.name:
            cfg = replace(cfg, train=replace(cfg.train, name=Path(args.config or "model").stem))
        train(cfg, resume=args.resume, progress=not args.quiet)
    except (ConfigError, DataError, DeviceError, checkpoint.CheckpointError) as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the best checkpoint so far is kept", file=sys.stderr)
        return 130
    return 0
