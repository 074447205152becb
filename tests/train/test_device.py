"""run.device values: the device type (process-group backend) and the torch device of a rank."""

from __future__ import annotations

import pytest
import torch

from styleinv_model.train.distributed import DistInfo
from styleinv_model.train.loop import device_type, resolve_device


def test_device_type_of_each_setting() -> None:
    assert device_type("cpu") == "cpu"
    assert device_type("cuda") == device_type("cuda:1") == "cuda"
    assert device_type("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_resolve_device() -> None:
    assert resolve_device("cpu", DistInfo()) == torch.device("cpu")
    assert resolve_device("auto", DistInfo()).type == device_type("auto")
    if torch.cuda.is_available():
        assert resolve_device("cuda", DistInfo(rank=1, world_size=2, local_rank=0)) == torch.device("cuda:0")
    else:
        with pytest.raises(RuntimeError, match="CUDA is not available: use --device cpu"):
            resolve_device("cuda", DistInfo())
