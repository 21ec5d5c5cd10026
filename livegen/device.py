"""One place that turns a device name from a flag or a config into one this machine has.

``auto`` means CUDA when a GPU is visible, else the CPU. A name the machine cannot serve
is a :class:`DeviceError` (one line, saying what to use instead), so a typo or a missing
GPU is reported before any work starts rather than as a traceback from deep in torch.
"""

from __future__ import annotations

import torch

from livegen.errors import LivegenError


class DeviceError(LivegenError):
    """A device name that is unknown, unsupported, or absent on this machine."""


def resolve_device(name: str) -> str:
    """``name`` ("auto", "cpu", "cuda", "cuda:N") as a device this machine has, e.g. "cuda"."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise DeviceError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r}: no CUDA device is available here; use auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise DeviceError(f"device {name!r}: this machine has {count} CUDA device(s)")
    return str(device)
