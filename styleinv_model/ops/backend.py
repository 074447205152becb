"""Choosing between the CUDA kernels and the PyTorch reference of each custom op.

Every op takes ``impl="auto" | "cuda" | "ref"``. ``auto`` uses the CUDA kernels when the input is
on a CUDA device and the extension builds; otherwise the reference. The environment variable
``STYLEINV_OPS=ref|cuda`` overrides ``auto``. When the CUDA path was wanted but cannot be used, a
warning says why, once per reason (never a silent fallback).
"""

from __future__ import annotations

import os
import warnings
from typing import Literal

import torch

Impl = Literal["auto", "cuda", "ref"]
_VALID_IMPLS = ("auto", "cuda", "ref")
_warned_reasons: set[str] = set()


def warn_once(reason: str) -> None:
    """Emit a RuntimeWarning for `reason` the first time it is seen in this process."""
    if reason not in _warned_reasons:
        _warned_reasons.add(reason)
        warnings.warn(reason, RuntimeWarning, stacklevel=3)


def forced_impl() -> str | None:
    """The value of ``STYLEINV_OPS`` (``ref`` or ``cuda``), or None when unset."""
    value = os.environ.get("STYLEINV_OPS", "").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in ("ref", "cuda"):
        raise ValueError(f"STYLEINV_OPS={value!r} is not valid: set it to 'ref', 'cuda' or unset it")
    return value


def resolve_impl(impl: str, tensor: torch.Tensor, op_name: str) -> str:
    """Decide which implementation runs `op_name` on `tensor`: returns "cuda" or "ref".

    ``impl="cuda"`` (or ``STYLEINV_OPS=cuda``) raises when the kernels cannot be used, since the
    caller asked for them explicitly; ``auto`` falls back to the reference with a one-time warning
    whenever the tensor is on a GPU but the kernels are unavailable.
    """
    if impl not in _VALID_IMPLS:
        raise ValueError(f"impl={impl!r} is not valid for {op_name}: use one of {_VALID_IMPLS}")
    if impl == "auto":
        impl = forced_impl() or "auto"
    if impl == "ref":
        return "ref"
    if tensor.device.type != "cuda":
        if impl == "cuda":
            raise RuntimeError(f"{op_name}: impl='cuda' needs a CUDA tensor, got one on {tensor.device}; "
                               "use impl='ref' or move the input to the GPU")
        return "ref"
    from styleinv_model.ops import build  # local import: building is only needed on a GPU

    plugin, reason = build.get_plugin()
    if plugin is None:
        if impl == "cuda":
            raise RuntimeError(f"{op_name}: CUDA kernels unavailable: {reason}")
        warn_once(f"styleinv ops: falling back to the slower PyTorch reference ops because {reason}")
        return "ref"
    return "cuda"
