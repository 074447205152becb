"""Data-parallel training under ``torchrun``: process group set-up and gradient averaging.

Every rank builds the same networks from the same seed, rank 0's weights are broadcast once, and
after each backward pass the gradients of the parameters being trained are averaged over ranks
(one flattened all-reduce, StyleGAN2-ADA's scheme; a GAN step runs several forward/backward
phases over different parameter subsets, which the ``DistributedDataParallel`` wrapper does not
fit). Each rank reads its own disjoint share of the sampler's stream (``rank::world_size``).
CPU runs use the gloo backend, CUDA runs NCCL.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group that ``torchrun`` describes (WORLD_SIZE > 1), else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def shutdown_distributed(finished: bool = False, exit_process: bool = False) -> None:
    """Leave the process group. After a run that `finished` on every rank, the ranks first meet at a
    barrier, so none tears its process down while another is still writing or communicating (after
    an error there is no barrier: the other ranks may be gone).

    With `exit_process` (the ``styleinv-train`` command under torchrun), a finished rank then ends
    its process at once (``os._exit(0)``, output flushed) instead of tearing the process group and
    the interpreter down: that teardown occasionally aborted a rank of a finished run here
    (``terminate called without an active exception``, gloo, 2 processes), failing the run after
    everything was saved. Nothing is left to do by then: the checkpoint is written and renamed."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
            if exit_process:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.enabled:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter], info: DistInfo) -> None:
    """Average the gradients of `params` over ranks (missing gradients count as zero)."""
    params = [p for p in params if p.requires_grad]
    if not info.enabled or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def all_true(flag: bool, device: torch.device, info: DistInfo) -> bool:
    """True when `flag` holds on every rank."""
    if not info.enabled:
        return flag
    value = torch.tensor([0.0 if flag else 1.0], device=device)
    dist.all_reduce(value)
    return bool(value.item() == 0.0)


def rank_rows(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's rows ``rank::world_size`` of a tensor drawn for the whole global batch."""
    return tensor[info.rank::info.world_size] if info.enabled else tensor
