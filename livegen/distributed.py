"""Training under ``torchrun``: which rank this process is, its device, the process group,
and the few collective steps the epoch loop needs. A plain run is world 1 and touches none
of ``torch.distributed``.
"""

from __future__ import annotations

import os

import torch

from livegen.device import resolve_device


def start(device_name: str) -> tuple[int, int, torch.device]:
    """(world size, rank, device) from torchrun's environment; joins the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(resolve_device(device_name))
    if world > 1:
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, rank, device


def wrap(model: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    """The module the loop calls forward on: the model itself, or DDP around it."""
    if world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.index else None)


def agree_steps(n_steps: int, device: torch.device, world: int) -> int:
    """The most steps any rank has this epoch: every rank takes as many, so each step's
    gradient all-reduce finds all ranks there."""
    if world <= 1:
        return n_steps
    import torch.distributed as dist

    t = torch.tensor([n_steps], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def stop(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
