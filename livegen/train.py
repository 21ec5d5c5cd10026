"""The training loop: corpus -> codec tokens -> truncated BPTT on the LSTM -> checkpoint.

``python train.py --config configs/<recipe>.yaml [--key=value ...]`` lands in :func:`main`.
One model class and one codec object serve training and live play alike, so what is
learnt here is what the Player steps. Runs under ``torchrun`` use DistributedDataParallel.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from livegen import checkpoint
from livegen.batches import IGNORE, iterate_chunks, plan_streams
from livegen.codecs import make_codec
from livegen.config import TrainConfig, load_config
from livegen.data import DataError, Split, load_pieces
from livegen.data.parts import parts_loader
from livegen.data.styles import style_loader
from livegen.device import DeviceError, resolve_device
from livegen.encoded import Encoded
from livegen.model import LSTMModel, ModelConfig, State
from livegen.recipe import ConfigError, to_dict
from livegen.threads import limit_threads


def init_head_bias(model: LSTMModel, sequences: list[np.ndarray]) -> None:
    """Start the head at the training data's marginals instead of at uniform.

    For the sigmoid head this is each key's log-odds of sounding: an untrained piano
    roll then costs ~11 nats per frame instead of 88 * ln 2 = 61, and training spends
    its steps on music rather than on learning that most keys are silent.
    """
    bias = model.head.bias
    if model.cfg.frame_input:
        frames = np.concatenate([s for s in sequences if len(s)])  # (N, K)
        p = np.clip(frames.mean(0), 1e-4, 1 - 1e-4)
        values = np.log(p / (1 - p))
    else:
        counts = np.bincount(np.concatenate(sequences), minlength=bias.numel())
        values = np.log((counts + 1) / (counts.sum() + bias.numel()))
    with torch.no_grad():
        bias.copy_(torch.as_tensor(values, dtype=bias.dtype))


# ---- evaluation ----------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: LSTMModel,
    sequences: list[np.ndarray],
    device,
    batch_size: int = 32,
    positions: list[np.ndarray] | None = None,
    styles: list[np.ndarray] | None = None,
) -> dict:
    """NLL per token (per frame, summed over keys, for pianoroll) and accuracy.

    Each piece is read from zero state; predictions are for steps 2..T from the steps
    before (the BL2012 protocol); all steps are pooled. ``styles`` is each piece's (S,)
    style input (a style model needs it).
    """
    model.eval()
    frames = model.cfg.frame_input
    nll = 0.0
    count = 0
    correct = tp = fp = fn = 0.0
    if positions is None and model.cfg.metric:
        raise ValueError("a metric model is evaluated with the positions of its tokens")
    if positions is None:  # a model without metric input ignores them
        positions = [np.zeros(len(s), dtype=np.int64) for s in sequences]
    n_styles = len(model.cfg.styles)
    if styles is None and n_styles:
        raise ValueError("a style model is evaluated with the style of each piece")
    if styles is None:
        styles = [np.zeros(0, np.float32) for _ in sequences]
    pairs = sorted(
        ((s, p, w) for s, p, w in zip(sequences, positions, styles, strict=True) if len(s) > 1),
        key=lambda sp: len(sp[0]),
    )
    for start in range(0, len(pairs), batch_size):
        group = [s for s, _, _ in pairs[start : start + batch_size]]
        group_pos = [p for _, p, _ in pairs[start : start + batch_size]]
        group_style = torch.as_tensor(
            np.stack([w for _, _, w in pairs[start : start + batch_size]])
        )
        t_max = max(len(s) for s in group) - 1
        b = len(group)
        if frames:
            width = group[0].shape[1]
            x = torch.zeros(b, t_max, width)
            y = torch.zeros(b, t_max, width)
        else:
            x = torch.zeros(b, t_max, dtype=torch.long)
            y = torch.full((b, t_max), IGNORE, dtype=torch.long)
        valid = torch.zeros(b, t_max, dtype=torch.bool)
        pos = torch.zeros(b, t_max, dtype=torch.long)
        for j, s in enumerate(group):
            n = len(s) - 1
            x[j, :n] = torch.as_tensor(s[:-1])
            pos[j, :n] = torch.as_tensor(group_pos[j][:-1])
            y[j, :n] = torch.as_tensor(s[1:])
            valid[j, :n] = True
        x, y, valid = x.to(device), y.to(device), valid.to(device)
        style = group_style.to(device) if n_styles else None  # (B, S)
        logits, _ = model(x, pos=pos.to(device), style=style)  # (B, T, V)
        logits = logits.float()
        if frames:
            bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)
            nll += bce[valid].sum().item()
            pred = (logits > 0)[valid]
            truth = y[valid] > 0.5
            tp += (pred & truth).sum().item()
            fp += (pred & ~truth).sum().item()
            fn += (~pred & truth).sum().item()
        else:
            nll += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                y.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            ).item()
            correct += ((logits.argmax(-1) == y) & valid).sum().item()
        count += int(valid.sum().item())
    model.train()
    if count == 0:
        return {"nll": float("nan"), "acc": float("nan"), "steps": 0}
    acc = tp / max(tp + fp + fn, 1.0) if frames else correct / count
    return {"nll": nll / count, "acc": acc, "steps": count}


# ---- the loop ------------------------------------------------------------------------
def chunk_loss(net, chunk, state: State, device, amp, segments: int = 0):
    """Mean loss over the chunk's valid steps, and the state to carry to the next chunk."""
    keep = torch.as_tensor(~chunk.reset, dtype=torch.float32, device=device)[None, :, None]
    state = State(state.h.detach() * keep, state.c.detach() * keep)  # (L, B, H)
    x = torch.as_tensor(chunk.x, device=device)
    y = torch.as_tensor(chunk.y, device=device)
    pos = None if chunk.pos is None else torch.as_tensor(chunk.pos, device=device)  # (B, T)
    style = None if chunk.style is None else torch.as_tensor(chunk.style, device=device)
    with amp():
        logits, state = net(x, state, checkpoint_segments=segments, pos=pos, style=style)
    logits = logits.float()
    n = max(chunk.n_valid, 1)
    if y.dtype == torch.long:
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
    else:
        valid = torch.as_tensor(chunk.valid, device=device)
        bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)  # (B, T)
        loss = bce[valid].sum()
    return loss / n, state


def lr_at(step: int, total: int, cfg) -> float:
    warm = min(cfg.warmup_steps, max(total // 10, 1))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - warm) / max(total - warm, 1)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True) -> dict:
    """Train one recipe; returns the metrics that are also written next to the checkpoint."""
    from tqdm import tqdm

    t_cfg = cfg.train
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(resolve_device(t_cfg.device))
    if world > 1:
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
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
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.index else None)
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
        state = checkpoint.load_resume(resume_path)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        history, best = state["history"], state["best"]
        start_epoch, step, elapsed = state["epoch"] + 1, state["step"], state["elapsed"]
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
        n_steps = max((len(s) for s in streams), default=0)
        if world > 1:
            import torch.distributed as dist

            t = torch.tensor([n_steps], device=device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            n_steps = int(t.item())
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
            meta = _meta(cfg, split, n_params, history, best, elapsed, device, world)
            if improved:
                checkpoint.save(
                    best_path,
                    model,
                    codec,
                    data=meta["data"],
                    config=to_dict(cfg),
                    metrics=meta["metrics"],
                )
            checkpoint.save_resume(
                resume_path,
                {
                    "model": model.state_dict(),
                    "optim": optim.state_dict(),
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "best": best,
                    "epoch": epoch,
                    "step": step,
                    "elapsed": elapsed,
                },
            )
        if t_cfg.patience and bad_epochs >= t_cfg.patience:
            if main_proc:
                print(f"no improvement for {bad_epochs} epochs: stopping", file=sys.stderr)
            break

    metrics: dict = {}
    if main_proc:
        # The test split is read once, with the best-validation weights.
        loaded = checkpoint.load(best_path, device=str(device))
        test_set = Encoded(codec, split.test, [0], lead, bpb)
        test_seqs = test_set.plain()
        test_pos = test_set.positions(test_seqs) if cfg.model.metric else None
        test_styles = test_set.style_inputs(n_styles)
        test = (
            evaluate(loaded.model, test_seqs, device, positions=test_pos, styles=test_styles)
            if test_seqs
            else {}
        )
        meta = _meta(cfg, split, n_params, history, best, elapsed, device, world)
        metrics = meta["metrics"]
        if test:
            metrics["test_nll"], metrics["test_acc"] = test["nll"], test["acc"]
        checkpoint.save(
            best_path, loaded.model, codec, data=meta["data"], config=to_dict(cfg), metrics=metrics
        )
        (out / f"{t_cfg.name}.metrics.json").write_text(
            json.dumps({"metrics": metrics, "data": meta["data"], "history": history}, indent=2)
        )
        plot_losses(history, out / f"{t_cfg.name}.loss.png", title=t_cfg.name)
        print(
            f"best val nll {best['nll']:.4f} at epoch {best['epoch']}; "
            f"test nll {metrics.get('test_nll', float('nan')):.4f}; wrote {best_path}",
            file=sys.stderr,
        )
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return metrics


def _meta(cfg, split, n_params, history, best, elapsed, device, world) -> dict:
    import platform

    styles = cfg.data.styles
    data = {
        "source": " + ".join(styles.values()) if styles else cfg.data.source,
        "pieces": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        "split": split.info.get("split"),
        "parts": split.info.get("parts"),
        "heldout": split.info.get("heldout"),
        "styles": split.info.get("styles"),
        "transpose": cfg.data.transpose,
    }
    metrics = {
        "val_nll": best["nll"],
        "val_acc": best.get("acc"),
        "best_epoch": best["epoch"],
        "epochs_run": len(history),
        "parameters": n_params,
        "train_seconds": round(elapsed, 1),
        "tokens_per_s": history[-1]["tokens_per_s"] if history else None,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, torch {torch.__version__}, "
        f"{device.type}" + (f" x{world}" if world > 1 else ""),
        "nll_unit": "nats per frame (sum over keys)"
        if cfg.codec.name == "pianoroll"
        else "nats per token",
    }
    return {"data": data, "metrics": metrics}


def plot_losses(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot(epochs, [r["train_loss"] for r in history], label="train loss")
    ax.plot(epochs, [r["val_nll"] for r in history], label="validation NLL")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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
