"""Is the gap between a data-parallel and a one-process stage-1 run float noise or a real difference?

Trajectories drift apart for two reasons: the step computes something else (a real difference), or
it computes the same thing with other rounding and the GAN dynamics amplify it step after step. To
tell them apart this script compares one step at a time from the SAME state:

1. A one-process reference run (CLI, one thread) saves a checkpoint after every step.
2. For each step k, three probes load the reference state before step k (its initial weights for
   k = 0), run exactly step k and record the gradients that reach the optimisers (after the
   all-reduce, G phase and D phase) and the weights after the step:
   * ``ddp2``: 2 processes under torchrun (gloo), one thread each;
   * ``t1``: one process, one thread (the reference's own arithmetic, to check the replay);
   * ``t2``: one process, two threads (the float-noise floor: the same computation, other kernels);
   * ``groups``: one process, one thread, with the minibatch-std group size halved (a calibration:
     the size of a real but small difference, here one that a data-parallel split could cause).
3. Per step: relative gradient difference ||g - g_t1|| / ||g_t1|| of ddp2 and of t2, and the largest
   weight difference after the step. A real difference shows as ddp2 well above t2; float noise
   as the two of the same order.
4. Free-running: the whole run in each mode (no replay), the largest weight difference at the end,
   which is where the amplification shows.

    .venv/bin/python benchmarks/ddp_step_check.py --config demo --steps 8 \\
        [--set stage1.pl_weight=2 --set stage1.style_mixing=0.9] [--out benchmarks/results/ddp_step_check.json]

Needs torch.distributed with gloo (CPU). Prints a table and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _env(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def _launch(args: list[str], processes: int, threads: int) -> None:
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else []
    command = [sys.executable, *launcher, *args]
    result = subprocess.run(command, cwd=REPO, env=_env(threads), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def _train(config: Path, manifest: Path, outdir: Path, steps: int, sets: list[str], processes: int,
           threads: int) -> Path:
    """A CLI stage-1 run; returns its checkpoint folder."""
    args = ["-m", "styleinv_model.train.cli", "stage1", "--config", str(config), "--manifest", str(manifest),
            "--outdir", str(outdir), "--max-steps", str(steps), "--quiet", "--set", f"run.cpu_threads={threads}"]
    for text in sets:
        args += ["--set", text]
    if outdir.exists() and any(outdir.iterdir()):
        raise SystemExit(f"{outdir} is not empty: give a fresh --workdir")
    _launch(args, processes, threads)
    (run,) = [p for p in outdir.iterdir() if p.is_dir()]
    return run / "checkpoints"


# ------------------------------------------------------------------------------------------- probe
def probe(run_dir: Path, step: int, threads: int, out: Path, mbstd_group: int | None) -> None:
    """(worker) Replay step `step` of the reference run from its state before that step."""
    import torch

    import styleinv_model.train.stage1 as stage1_module
    from styleinv_model.train.config import config_from_resolved
    from styleinv_model.train.distributed import init_distributed, shutdown_distributed
    from styleinv_model.train.resume import read_run_config
    from styleinv_model.train.state import load_training_checkpoint

    torch.set_num_threads(threads)
    config = config_from_resolved(read_run_config(run_dir))
    info = init_distributed("cpu")
    try:
        torch.manual_seed(config.run.seed)
        stage = stage1_module.Stage1(config, Path(config.run.manifest), info, torch.device("cpu"))
        stage.build()
        if step > 0:
            loaded, extra = load_training_checkpoint(run_dir / "checkpoints" / f"ckpt-{step:08d}.safetensors",
                                                     stage.modules(), stage.optimizers(), "stage1")
            stage.load_loop_state(loaded.state.loop, extra)
        if mbstd_group is not None:  # the calibration probe: same weights, other minibatch-std groups
            stage.D.b4.mbstd.group_size = mbstd_group
        stage.start(step)
        grads: list[torch.Tensor] = []
        original = stage1_module.average_gradients

        def recording(params, dist_info) -> None:
            params = [p for p in params if p.requires_grad]
            original(params, dist_info)
            grads.append(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                                    for p in params]).detach().clone())

        stage1_module.average_gradients = recording
        try:
            stage.train_step(step)
        finally:
            stage1_module.average_gradients = original
        if info.is_main:
            weights = {f"{name}.{key}": p.detach().clone() for name in ("G", "D")
                       for key, p in stage.modules()[name].named_parameters()}
            torch.save({"grad_G": grads[0], "grad_D": grads[1], "weights": weights}, out)
        stage.close()
    finally:
        shutdown_distributed()


# ---------------------------------------------------------------------------------------- compare
def _load(path: Path) -> dict[str, Any]:
    import torch

    return torch.load(path, weights_only=True)


def _relative(a, b) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def _checkpoint_weights(folder: Path, step: int) -> dict[str, Any]:
    """G's and D's parameters and buffers after `step` steps, keyed ``G.<name>`` / ``D.<name>``."""
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

    state = load_checkpoint(folder / f"ckpt-{step:08d}.safetensors").state_dicts
    return {f"{net}.{key}": value for net in ("G", "D") for key, value in state[net].items()}


def _max_diff(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Largest |a - b| over the tensors of `a` (parameters; `b` may hold buffers too)."""
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def _params_only(weights: dict[str, Any], probe_result: dict[str, Any]) -> dict[str, Any]:
    return {k: weights[k] for k in probe_result["weights"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="demo")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ddp_step_check.json")
    parser.add_argument("--probe", nargs=4, metavar=("RUN_DIR", "STEP", "THREADS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--probe-mbstd-group", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        run_dir, step, threads, out = args.probe
        probe(Path(run_dir), int(step), int(threads), Path(out), args.probe_mbstd_group)
        return 0

    import torch

    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces
    from styleinv_model.train.config import load_stage_config, resolve_config_path

    started = time.time()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ddp_step_check_"))
    work.mkdir(parents=True, exist_ok=True)
    resolution = load_stage_config("stage1", args.config, args.sets).settings.resolution
    manifest = work / "data" / "manifest.jsonl"
    if not manifest.is_file():
        write_moving_faces(work / "data", MovingFacesConfig(num_videos=12, frames=24, size=resolution, seed=0))
    config = resolve_config_path(args.config)
    every = ["run.checkpoint_every=1", f"run.keep_checkpoints={args.steps + 1}", "run.snapshot_every=0",
             "run.tensorboard=false", *args.sets]
    reference = _train(config, manifest, work / "t1", args.steps, every, 1, 1)
    free_t2 = _train(config, manifest, work / "t2", args.steps, every, 1, 2)
    free_ddp = _train(config, manifest, work / "ddp2", args.steps, every, 2, 1)

    rows = []
    run_dir = reference.parent
    for step in range(args.steps):
        results = {}
        group = load_stage_config("stage1", args.config, args.sets).settings.discriminator.get("mbstd_group_size", 4)
        for label, processes, threads, mbstd in (("t1", 1, 1, None), ("t2", 1, 2, None), ("ddp2", 2, 1, None),
                                                 ("groups", 1, 1, group // 2)):
            out = work / f"probe-{label}-{step}.pt"
            extra = ["--probe-mbstd-group", str(mbstd)] if mbstd is not None else []
            _launch([str(Path(__file__).resolve()), "--probe", str(run_dir), str(step), str(threads), str(out), *extra],
                    processes, threads)
            results[label] = _load(out)
        t1, t2, ddp, groups = results["t1"], results["t2"], results["ddp2"], results["groups"]
        after = _checkpoint_weights(reference, step + 1)
        rows.append({
            "step": step,
            "replay_exact": _max_diff(t1["weights"], after) == 0.0,
            "grad_G_rel_t2": _relative(t2["grad_G"], t1["grad_G"]),
            "grad_G_rel_ddp2": _relative(ddp["grad_G"], t1["grad_G"]),
            "grad_D_rel_t2": _relative(t2["grad_D"], t1["grad_D"]),
            "grad_D_rel_ddp2": _relative(ddp["grad_D"], t1["grad_D"]),
            "grad_G_rel_groups": _relative(groups["grad_G"], t1["grad_G"]),
            "grad_D_rel_groups": _relative(groups["grad_D"], t1["grad_D"]),
            "weights_max_t2": _max_diff(t2["weights"], t1["weights"]),
            "weights_max_ddp2": _max_diff(ddp["weights"], t1["weights"]),
            "free_weights_max_t2": _max_diff(_params_only(_checkpoint_weights(free_t2, step + 1), t1), after),
            "free_weights_max_ddp2": _max_diff(_params_only(_checkpoint_weights(free_ddp, step + 1), t1), after),
        })
    header = (f"{'step':>4} {'replay':>6} {'gG t2':>9} {'gG ddp2':>9} {'gG grp':>9} {'gD t2':>9} {'gD ddp2':>9} "
              f"{'gD grp':>9} {'w t2':>9} {'w ddp2':>9} {'free t2':>9} {'free ddp2':>9}")
    print("one step from the same state: relative gradient difference to 1 thread (gG, gD), largest weight")
    print("difference after the step (w); free-running runs: largest weight difference after the step (free)")
    print(header)
    for r in rows:
        print(f"{r['step']:>4} {str(r['replay_exact']):>6} {r['grad_G_rel_t2']:9.2e} {r['grad_G_rel_ddp2']:9.2e} "
              f"{r['grad_G_rel_groups']:9.2e} {r['grad_D_rel_t2']:9.2e} {r['grad_D_rel_ddp2']:9.2e} "
              f"{r['grad_D_rel_groups']:9.2e} {r['weights_max_t2']:9.2e} "
              f"{r['weights_max_ddp2']:9.2e} {r['free_weights_max_t2']:9.2e} {r['free_weights_max_ddp2']:9.2e}")
    result = {
        "command": " ".join([sys.executable, *sys.argv]), "config": args.config, "sets": args.sets,
        "steps": args.steps, "machine": {"platform": platform.platform(), "processor": platform.processor(),
                                         "cpus": os.cpu_count(), "torch": torch.__version__},
        "seconds": round(time.time() - started, 1), "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
