"""Training-statistics logging: one JSON line per report in ``run_dir/log.jsonl`` plus TensorBoard.

``TrainLogger(run_dir)`` appends ``{"step", "kimg", "time", <scalars>...}`` lines (``time`` is
seconds since the logger was made; non-finite values become ``null``); the file is opened in
append mode and line-buffered, so a resumed run continues the same file and a killed run keeps
every line it wrote. With ``tensorboard=True`` the same scalars also go to TensorBoard event files
in ``run_dir`` (one warning and JSONL only when TensorBoard cannot be imported). Only rank 0
should log: ``enabled=False`` turns every method into a no-op that touches no file.

``ScalarAccumulator`` collects weighted sums between reports; ``means()`` all-reduces sums and
counts over ``torch.distributed`` (when initialised) and resets.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

LOG_NAME = "log.jsonl"
_RESERVED = ("step", "kimg", "time")
_tensorboard_warned = False


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"scalar {name!r} has {value.numel()} elements; log its mean or one value")
        return float(value.detach().cpu().item())
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"scalar {name!r} of type {type(value).__name__} is not a number") from e


def _json_value(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _make_summary_writer(run_dir: Path):
    """A SummaryWriter on ``run_dir``, or None (with one warning per process) if unavailable."""
    global _tensorboard_warned
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as e:  # ImportError, or protobuf/tensorboard version clashes
        if not _tensorboard_warned:
            warnings.warn(f"TensorBoard unavailable ({e}); logging to {LOG_NAME} only "
                          "(pip install tensorboard to get event files)", RuntimeWarning, stacklevel=3)
            _tensorboard_warned = True
        return None
    return SummaryWriter(log_dir=str(run_dir))


class TrainLogger:
    """Append-only JSONL (+ TensorBoard) logger for one run folder. Use on rank 0 only."""

    def __init__(self, run_dir: Path, enabled: bool = True, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = bool(enabled)
        self.path = self.run_dir / LOG_NAME
        self._start = time.monotonic()
        self._file = None
        self._writer = None
        if not self.enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # buffering=1: text mode flushes at every newline, so each record reaches the OS at once.
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)
        if tensorboard:
            self._writer = _make_summary_writer(self.run_dir)

    @property
    def tensorboard_active(self) -> bool:
        return self._writer is not None

    def log(self, step: int, kimg: float, scalars: Mapping[str, Any]) -> dict[str, Any] | None:
        """Write one record; returns it (None when disabled)."""
        if not self.enabled:
            return None
        if self._file is None:
            raise RuntimeError(f"{self.path}: logger is closed; make a new TrainLogger to log again")
        clash = [k for k in scalars if k in _RESERVED]
        if clash:
            raise ValueError(f"scalar names {clash} clash with the record fields {_RESERVED}; rename them")
        values = {str(k): _to_float(str(k), v) for k, v in scalars.items()}
        elapsed = time.monotonic() - self._start
        record: dict[str, Any] = {"step": int(step), "kimg": _json_value(float(kimg)), "time": elapsed}
        record.update({k: _json_value(v) for k, v in values.items()})
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()
        if self._writer is not None:
            walltime = time.time()
            for k, v in values.items():
                if math.isfinite(v):
                    self._writer.add_scalar(k, v, global_step=int(step), walltime=walltime)
            self._writer.flush()
        return record

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "TrainLogger":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class ScalarAccumulator:
    """Weighted running sums of named scalars, averaged (and optionally all-reduced) on demand.

    ``add(name, value, weight)``: a tensor contributes each of its elements as one sample of
    ``weight`` (so a per-sample loss vector counts by batch size); a float is one sample. Sums are
    kept as detached float64 tensors on the value's device, so ``add`` does not synchronise a GPU.
    """

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, float] = {}

    def add(self, name: str, value: torch.Tensor | float, weight: float = 1) -> None:
        if isinstance(value, torch.Tensor):
            v = value.detach().to(torch.float64)
            total, count = v.sum() * weight, float(v.numel()) * weight
        else:
            total, count = torch.tensor(float(value) * weight, dtype=torch.float64), float(weight)
        if name in self._sums:
            prev = self._sums[name]
            self._sums[name] = prev + total.to(prev.device)
            self._counts[name] += count
        else:
            self._sums[name] = total
            self._counts[name] = count

    def names(self) -> list[str]:
        return sorted(self._sums)

    def reset(self) -> None:
        self._sums.clear()
        self._counts.clear()

    def means(self, reduce_across_ranks: bool = True) -> dict[str, float]:
        """Weighted means since the last reset, then reset.

        With ``reduce_across_ranks`` and an initialised process group this is a collective: every
        rank must call it. Names seen on any rank are included; a name with zero total weight gives
        NaN.
        """
        import torch.distributed as dist

        distributed = reduce_across_ranks and dist.is_available() and dist.is_initialized()
        names = self.names()
        device = torch.device("cpu")
        if distributed:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, names)
            names = sorted(set().union(*gathered))
            if dist.get_backend() == "nccl":
                device = torch.device("cuda", torch.cuda.current_device())
        stats = torch.zeros(2 * len(names), dtype=torch.float64, device=device)
        for i, name in enumerate(names):
            if name in self._sums:
                stats[2 * i] = self._sums[name].to(device)
                stats[2 * i + 1] = self._counts[name]
        if distributed and names:
            dist.all_reduce(stats, op=dist.ReduceOp.SUM)
        stats = stats.cpu().tolist()
        self.reset()
        out: dict[str, float] = {}
        for i, name in enumerate(names):
            total, count = stats[2 * i], stats[2 * i + 1]
            out[name] = total / count if count != 0 else math.nan
        return out
