"""Device names: auto picks what the machine has; a device it lacks is a one-line error."""

from __future__ import annotations

import pytest
import torch

from livegen.device import DeviceError, resolve_device
from livegen.errors import LivegenError


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_auto_is_cpu_without_cuda(no_cuda) -> None:
    assert resolve_device("auto") == "cpu"


def test_auto_is_cuda_with_a_gpu(one_gpu) -> None:
    assert resolve_device("auto") == "cuda"


def test_names_the_machine_has_pass_through(one_gpu) -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cuda:0") == "cuda:0"


def test_cuda_without_cuda_says_what_to_use(no_cuda) -> None:
    with pytest.raises(DeviceError, match="use auto or cpu") as err:
        resolve_device("cuda")
    assert isinstance(err.value, LivegenError)
    assert "\n" not in str(err.value)
    with pytest.raises(DeviceError, match="use auto or cpu"):
        resolve_device("cuda:0")


def test_a_gpu_index_beyond_the_machine_is_refused(one_gpu) -> None:
    with pytest.raises(DeviceError, match="1 CUDA device"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("name", ["gpu", "", "cuda:x"])
def test_unknown_names_are_refused(name: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)


def test_other_torch_devices_are_not_supported() -> None:
    with pytest.raises(DeviceError, match="not supported"):
        resolve_device("meta")
