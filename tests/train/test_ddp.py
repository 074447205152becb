"""Data-parallel stage 1: a 2-process CPU run under ``torchrun`` (gloo) trains to the same weights as
one process with the same global batch, and each rank reads a disjoint share of the data.

Why the two runs can agree: every rank builds the same networks from the same seed; latents, noise
and style-mixing draws are made for the global batch from (seed, step, stream) generators and rank
``r`` keeps rows ``r::world_size``; the frame sampler's global stream is split the same way; losses
are batch means, so averaging the per-rank gradients gives the global-batch gradient. What remains
is float summation order (measured below).

Measured on the 2-core CPU box (`pytest -q tests/train/test_ddp.py`, 4 steps, global batch 4, path
length regularisation and ADA (p 0.2, adaptive) on): see the test for the tolerance. Before the
augmentation parameters, the path-length noise and the w_avg tracking were made rank-consistent,
the weights differed by up to 2.3e-2 and w_avg by 1.4e-2.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from styleinv_model.checkpoints.safetensors_io import load_checkpoint
from styleinv_model.train.data import FrameStream
from styleinv_model.train.distributed import DistInfo, rank_rows

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)

REPO = Path(__file__).resolve().parents[2]
GLOBAL_BATCH = 4
WORLD = 2
STEPS = 4  # TINY_CONFIG's stage1.max_steps
ATOL, RTOL = 1e-5, 1e-4  # per tensor: max|a - b| <= ATOL + RTOL * max|a|

# The minibatch-stddev layer reshapes a batch of N into [group, N / group] and takes the std over
# the first axis, so sample i lands in subgroup i % (N / group): with N = 4 and group = 2 the
# subgroups are rows {0, 2} and {1, 3} (StyleGAN's strided groups). Those are exactly rank 0's and
# rank 1's rows of the global batch (rank_rows and FrameStream take rows rank::world_size), so with
# the group size set to the per-rank batch (2) each rank computes the statistic of the same group as
# the single process does (any group dividing the per-rank batch pairs up the same way). The default
# group of 4 is cut to min(4, 2) per rank and the runs differ (measured: up to 1.0e-2).
DISCRIMINATOR = {"channel_base": 256, "channel_max": 16, "mbstd_group_size": GLOBAL_BATCH // WORLD}
ADA_ON = {"pipeline": "bgc", "target": 0.6, "speed_kimg": 0.01, "interval": 1, "initial_p": 0.2}

FULL_STAGE1 = {"discriminator": DISCRIMINATOR, "pl_weight": 2.0, "augment": ADA_ON}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _train(config: Path, manifest: Path, outdir: Path, processes: int) -> dict[str, dict[str, torch.Tensor]]:
    """Run stage 1 in `processes` processes (torchrun when > 1); the final checkpoint's state dicts."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else []
    cmd = [sys.executable, *launcher, "-m", "styleinv_model.train.cli", "stage1", "--config", str(config),
           "--manifest", str(manifest), "--outdir", str(outdir), "--quiet"]
    result = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    runs = sorted(p for p in outdir.iterdir() if p.is_dir())
    assert len(runs) == 1, f"expected one run folder (rank 0 only) in {outdir}, found {[p.name for p in runs]}"
    latest = json.loads((runs[0] / "checkpoints" / "latest.json").read_text())
    assert latest["step"] == STEPS, f"{processes}-process run stopped at step {latest['step']}, expected {STEPS}"
    return load_checkpoint(runs[0] / "checkpoints" / latest["file"]).state_dicts


def _differences(single: dict[str, dict[str, torch.Tensor]], ddp: dict[str, dict[str, torch.Tensor]],
                 skip: tuple[str, ...] = ()) -> tuple[float, list[str]]:
    """(largest |single - ddp| over all compared tensors, tensors outside the tolerance)."""
    worst, bad = 0.0, []
    for name in ("G", "D", "G_ema"):
        a_all, b_all = single[name], ddp[name]
        assert a_all.keys() == b_all.keys(), f"{name}: the two runs saved different tensors"
        for key, a in a_all.items():
            if key in skip:
                continue
            a, b = a.double(), b_all[key].double()
            diff = float((a - b).abs().max())
            worst = max(worst, diff)
            if diff > ATOL + RTOL * float(a.abs().max()):
                bad.append(f"{name}.{key}: {diff:.3g}")
    return worst, bad


def _run_pair(tiny_config: Any, tiny_faces: Path, tmp_path: Path, stage1: dict[str, Any]):
    config = tiny_config(stage1={**stage1})
    single = _train(config, tiny_faces, tmp_path / "single", 1)
    ddp = _train(config, tiny_faces, tmp_path / "ddp", WORLD)
    return single, ddp


def test_two_process_run_matches_one_process(tiny_config: Any, tiny_faces: Path, tmp_path: Path) -> None:
    """Path length, style mixing, ADA (adaptive p) and w_avg tracking all on; every tensor compared."""
    single, ddp = _run_pair(tiny_config, tiny_faces, tmp_path, FULL_STAGE1)
    worst, bad = _differences(single, ddp)
    assert not bad, f"2-process weights differ from 1-process beyond {ATOL} + {RTOL}*max|w|: {bad[:8]}"
    assert worst < 1e-5, f"largest difference {worst:.3g}"
    print(f"largest |1-process - 2-process| over G, D, G_ema: {worst:.3g}")
    # the runs trained (the comparison is not between untouched initial weights): G_ema trails G
    lag = max(float((single["G"][k] - single["G_ema"][k]).abs().max()) for k in single["G"])
    assert lag > 1e-4, f"G and G_ema are identical ({lag:.3g}): did the run train at all?"
    # augmentation really ran with p > 0 and moved adaptively
    assert float(single["augment"]["p"]) != 0.2 and torch.equal(single["augment"]["p"], ddp["augment"]["p"])


def _stream(manifest: Path, global_batch: int, world_size: int = 1, rank: int = 0) -> FrameStream:
    return FrameStream(manifest, resolution=16, global_batch=global_batch, info=DistInfo(rank, world_size),
                       seed=3, threads=1)


@pytest.mark.parametrize("world_size", [2, 4])
def test_ranks_read_disjoint_shares_of_the_single_process_stream(tiny_faces: Path, world_size: int) -> None:
    steps = 10  # 10 steps of 2 per rank: crosses several 6-video epochs (and 6 % 4 != 0)
    single = _stream(tiny_faces, 2 * world_size)
    assert single.local_batch == 2 * world_size
    whole = list(itertools.islice(iter(single.sampler), steps * single.local_batch))
    shares = []
    for rank in range(world_size):
        stream = _stream(tiny_faces, 2 * world_size, world_size, rank)
        assert stream.local_batch == 2
        keys = list(itertools.islice(iter(stream.sampler), steps * stream.local_batch))
        # rank r's j-th key is global position r + j * world_size
        assert keys == whole[rank::world_size], f"rank {rank} of {world_size} does not read positions r::W"
        shares.append({(rank + j * world_size, key) for j, key in enumerate(keys)})
    positions = [{pos for pos, _ in share} for share in shares]
    for a, b in itertools.combinations(range(world_size), 2):
        assert not positions[a] & positions[b], f"ranks {a} and {b} share stream positions"
    assert set().union(*shares) == set(enumerate(whole)), "the ranks' shares do not make up the single stream"
    # the shares are different frames, not one frame repeated (the comparison above could not tell)
    assert len({key for _, key in set().union(*shares)}) > len(whole) // 2


def test_rank_batches_are_rows_of_the_global_batch(tiny_faces: Path) -> None:
    """Decoded batches: rank r's batch of step s is rows r::2 of the single process's batch s, the
    same rows rank_rows takes of the latents, so real and generated samples pair up alike."""
    steps = 4
    single = list(itertools.islice(_stream(tiny_faces, GLOBAL_BATCH).batches(), steps))
    for rank in range(WORLD):
        info = DistInfo(rank, WORLD)
        batches = list(itertools.islice(_stream(tiny_faces, GLOBAL_BATCH, WORLD, rank).batches(), steps))
        for step, (mine, whole) in enumerate(zip(batches, single)):
            assert mine.shape == (2, 3, 16, 16)
            assert torch.equal(mine, rank_rows(whole, info)), f"rank {rank}, step {step}"
    # a resumed rank skips exactly its finished steps
    resumed = next(_stream(tiny_faces, GLOBAL_BATCH, WORLD, 1).batches(start_step=3))
    assert torch.equal(resumed, single[3][1::2])


def _torchrun(args: list[str], processes: int = WORLD) -> str:
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else []
    cmd = [sys.executable, *launcher, "-m", "styleinv_model.train.cli", "stage1", *args, "--quiet"]
    result = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stderr


def _only_run(outdir: Path) -> Path:
    runs = [p for p in outdir.iterdir() if p.is_dir()]
    assert len(runs) == 1, [p.name for p in runs]
    return runs[0]


def test_two_process_resume_is_bitwise_and_keeps_the_global_ada_statistics(tiny_config: Any, tiny_faces: Path,
                                                                           tmp_path: Path, assert_same_checkpoint) -> None:
    """2 processes, 3 steps in one go == 2 steps, a stop, and a 2-process resume to step 3 (every
    tensor, optimiser state and the loop state included). ADA updates every 4 steps here, so both
    checkpoints hold pending sign statistics: they must be the whole global batch's (as one process
    has them), not rank 0's share, and after the resume they must not be counted twice (which the
    adaptive p cannot show: doubling both sums keeps their ratio)."""
    ada = {**ADA_ON, "interval": 4}
    config = tiny_config(stage1={**FULL_STAGE1, "augment": ada}, run={"checkpoint_every": 2})
    common = ["--config", str(config), "--manifest", str(tiny_faces)]
    _torchrun([*common, "--outdir", str(tmp_path / "whole"), "--max-steps", "3"])
    _torchrun([*common, "--outdir", str(tmp_path / "split"), "--max-steps", "2"])
    split = _only_run(tmp_path / "split")
    _torchrun(["--resume", str(split), "--max-steps", "3"])
    _torchrun([*common, "--outdir", str(tmp_path / "single"), "--max-steps", "2"], processes=1)

    whole = _only_run(tmp_path / "whole") / "checkpoints"
    assert_same_checkpoint(whole / "ckpt-00000003.safetensors", split / "checkpoints" / "ckpt-00000003.safetensors")
    ada_at_3 = load_checkpoint(whole / "ckpt-00000003.safetensors").config["progress"]["loop"]["ada"]
    assert ada_at_3["count"] == 3 * GLOBAL_BATCH  # (assert_same_checkpoint compared the resumed run's too)
    ada_of = {name: load_checkpoint(folder / "ckpt-00000002.safetensors").config["progress"]["loop"]["ada"]
              for name, folder in (("ddp", split / "checkpoints"), ("single", _only_run(tmp_path / "single") / "checkpoints"))}
    # 2 steps x global batch 4 real logits since the last update, summed over both ranks
    assert ada_of["ddp"]["count"] == ada_of["single"]["count"] == 2 * GLOBAL_BATCH
    assert ada_of["ddp"]["sign_sum"] == ada_of["single"]["sign_sum"]
