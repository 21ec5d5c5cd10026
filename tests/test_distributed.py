"""A plain run (no torchrun) is world 1: rank 0, the model itself, no process group."""

from __future__ import annotations

import torch

from livegen import distributed


def test_without_torchrun_a_run_is_one_rank_with_no_process_group(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    world, rank, device = distributed.start("cpu")
    assert (world, rank, device) == (1, 0, torch.device("cpu"))
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, device, world) is model
    assert distributed.agree_steps(17, device, world) == 17
    distributed.stop(world)
    assert not torch.distributed.is_initialized()
