"""The loop every stage shares: run folder, resume, steps, logging, checkpoints, snapshots,
periodic metrics, non-finite detection, progress bar and end-of-run summary.

A stage is a :class:`Stage` subclass: it builds its networks, optimisers and data stream, runs one
optimisation step (returning its losses), and names what a checkpoint holds. Everything else is
here, so every stage resumes, logs and stops the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from styleinv_model.train.config import TrainConfig
from styleinv_model.train.distributed import DistInfo, all_true
from styleinv_model.train.logger import ScalarAccumulator, TrainLogger
from styleinv_model.train.resume import resume_target
from styleinv_model.train.run_dir import create_run_dir, write_resolved_config
from styleinv_model.train.state import TrainingState, load_training_checkpoint, save_training_checkpoint


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the last good checkpoint."""


def device_type(name: str) -> str:
    """"cuda" or "cpu": what a ``run.device`` value asks for ("auto": CUDA when there is one)."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if name.startswith("cuda") else "cpu"


def resolve_device(name: str, info: DistInfo) -> torch.device:
    if name == "auto":
        name = device_type(name)
    if name == "cuda" and info.enabled:
        name = f"cuda:{info.local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available: use --device cpu")
    return device


class Stage:
    """One training stage. Subclasses set ``name`` and implement the hooks below."""

    name = "stage"

    def __init__(self, config: TrainConfig, manifest: Path | None, info: DistInfo, device: torch.device) -> None:
        self.config = config
        self.settings = config.settings
        self.manifest = manifest
        self.info = info
        self.device = device
        self.seed = config.run.seed

    # -- hooks --------------------------------------------------------------------------------
    def build(self) -> None:
        """Create networks, optimisers and the data stream (same on every rank)."""
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        """Everything a checkpoint stores as networks (name -> module)."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def loop_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """JSON-able counters and extra tensors a resume needs besides the networks, for the whole
        run: called on every rank (collectives allowed), saved by rank 0."""
        return {}, {}

    def load_loop_state(self, loop: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        pass

    def start(self, step: int) -> None:
        """Called once before the first step to run (``step`` > 0 after a resume)."""

    def close(self) -> None:
        """Called once when the run ends (finished or not): stops the data stream's loader threads
        (``self.batches``, set by ``start``), so none is still decoding while the process exits."""
        batches = getattr(self, "batches", None)
        if batches is not None and callable(getattr(batches, "close", None)):
            batches.close()

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step; returns its (detached) losses and statistics."""
        raise NotImplementedError

    @property
    def batch_size(self) -> int:
        return int(self.settings.batch_size)

    def snapshot(self, run_dir: Path, step: int) -> None:
        """Write PNG grids / mp4s of the current networks (rank 0 only)."""

    def evaluate(self, step: int) -> dict[str, float]:
        """Periodic metrics (FID/FVD); empty when the metric weights are absent."""
        return {}

    def total_steps(self) -> int:
        steps = max(1, math.ceil(self.settings.total_kimg * 1000.0 / self.batch_size))
        if self.settings.max_steps is not None:
            steps = min(steps, int(self.settings.max_steps))
        return steps


@dataclass
class RunResult:
    run_dir: Path
    steps_done: int
    last_checkpoint: Path | None
    seconds: float
    final_losses: dict[str, float]


def _new_run_dir(config: TrainConfig, run_name: str | None, info: DistInfo) -> Path:
    """Rank 0 creates the run folder and writes the resolved config; the others learn it by broadcast."""
    name = run_name or config.dataset
    if info.is_main:
        run_dir = create_run_dir(Path(config.run.outdir), config.stage, name)
        write_resolved_config(run_dir, config.to_dict())
    else:
        run_dir = None
    if info.enabled:
        box = [str(run_dir) if run_dir else None]
        torch.distributed.broadcast_object_list(box, src=0)
        run_dir = Path(box[0])
    return Path(run_dir)


def _remove_failed_start(run_dir: Path) -> None:
    """Remove a run folder this run created when it failed before its first step (config and logs only)."""
    import shutil  # noqa: PLC0415

    if any(p.suffix == ".safetensors" for p in run_dir.rglob("*")):
        return  # never delete a checkpoint
    shutil.rmtree(run_dir, ignore_errors=True)


def run_stage(stage: Stage, resume: Path | None = None, run_name: str | None = None,
              progress: bool = True) -> RunResult:
    """Train `stage` to its total steps (resuming when asked); returns where and how far it got."""
    config = stage.config
    info = stage.info
    if config.run.deterministic:
        torch.use_deterministic_algorithms(True)
    if config.run.cpu_threads is not None and stage.device.type == "cpu":
        torch.set_num_threads(config.run.cpu_threads)
    run_dir, resume_from = resume_target(resume)
    torch.manual_seed(config.run.seed)  # identical initial weights on every rank
    stage.build()  # before the run folder exists: a bad input leaves nothing behind
    created = run_dir is None
    if run_dir is None:
        run_dir = _new_run_dir(config, run_name, info)
    state = TrainingState()
    last_checkpoint: Path | None = None
    if resume_from is not None:
        loaded, extra = load_training_checkpoint(resume_from, stage.modules(), stage.optimizers(), stage.name,
                                                 stage.device)
        state = loaded.state
        stage.load_loop_state(state.loop, extra)
        last_checkpoint = resume_from
        if info.is_main:  # the run's config from now on (a resume may have changed a safe setting)
            write_resolved_config(run_dir, config.to_dict())
    total = stage.total_steps()
    logger = TrainLogger(run_dir, enabled=info.is_main, tensorboard=config.run.tensorboard)
    accumulator = ScalarAccumulator()
    bar = None
    if progress and info.is_main:
        from styleinv_data.progress import progress_bar

        bar = progress_bar(total=total, initial=state.step, desc=f"{stage.name}", unit="step")
    started = time.time()
    start_step = state.step
    final: dict[str, float] = {}

    def checkpoint() -> Path | None:
        loop, tensors = stage.loop_state()  # on every rank: it may reduce per-rank counters
        if not info.is_main:
            return None
        state.loop = loop
        return save_training_checkpoint(run_dir, state, stage.modules(), stage.optimizers(), config.to_dict(),
                                        tensors, keep=config.run.keep_checkpoints)

    stage.start(state.step)
    try:
        while state.step < total:
            step = state.step
            losses = stage.train_step(step)
            finite = all(bool(torch.isfinite(v).all()) for v in losses.values())
            if not all_true(finite, stage.device, info):
                bad = sorted(k for k, v in losses.items() if not bool(torch.isfinite(v).all()))
                where = last_checkpoint if last_checkpoint is not None else "none (no checkpoint written yet)"
                raise NonFiniteLoss(f"{stage.name}: non-finite loss {bad or '(on another rank)'} at step {step}; "
                                    f"last good checkpoint: {where}. Lower the learning rate or raise r1_gamma, "
                                    "then --resume from that checkpoint")
            for key, value in losses.items():
                accumulator.add(key, value.detach().float().mean())
            state.step += 1
            state.images_seen += stage.batch_size
            done = state.step
            if done % config.run.log_every == 0 or done == total:
                means = accumulator.means(reduce_across_ranks=True)
                elapsed = max(time.time() - started, 1e-9)
                means["sec_per_kimg"] = elapsed / max((done - start_step) * stage.batch_size / 1000.0, 1e-9)
                final = means
                logger.log(done, state.kimg, means)
                if bar is not None:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(means.items())[:4]}, refresh=False)
            if info.is_main and config.run.metrics_every and done % config.run.metrics_every == 0:
                metrics = stage.evaluate(done)
                if metrics:
                    logger.log(done, state.kimg, metrics)
            if done % config.run.checkpoint_every == 0 or done == total:
                path = checkpoint()
                if path is not None:
                    last_checkpoint = path
            if info.is_main and config.run.snapshot_every and (done % config.run.snapshot_every == 0 or done == total):
                stage.snapshot(run_dir, done)
            if bar is not None:
                bar.update(1)
    except BaseException:
        if created and state.step == start_step and info.is_main:
            # The run failed before its first step completed (a generator that does not fit the
            # data, a shape error on the first batch): nothing worth keeping was written.
            logger.close()
            _remove_failed_start(run_dir)
        raise
    finally:
        stage.close()
        if bar is not None:
            bar.close()
        logger.close()
    seconds = time.time() - started
    if info.is_main and progress:
        images = (state.step - start_step) * stage.batch_size
        rate = images / max(seconds, 1e-9)
        print(f"{stage.name}: {state.step - start_step} steps ({start_step} -> {state.step}), {images} samples in "
              f"{seconds:.1f} s ({rate:.1f}/s); run folder {run_dir}; last checkpoint {last_checkpoint}")
    return RunResult(run_dir, state.step, last_checkpoint, seconds, final)
