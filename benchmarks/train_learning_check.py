"""Training learning check on the CPU (a benchmark, not a timed test).

Builds a small synthetic set of real faces moving smoothly (scikit-image photos, 32²), trains
stage 1 (StyleGAN2 with the demo config's small networks), stage 2 (inversion encoder) from it and
stage 3 (StyleInV) from both, all on the CPU, then checks that each stage learned:

* stage 1: the discriminator loss leaves its chance value 2·ln 2 (D tells reals from fakes), the
  generator loss leaves ln 2, R1 stays finite and small, D's sign on the reals is positive;
* stage 2: the L2 reconstruction loss falls clearly (last 10 % of steps vs first 10 %);
* stage 3: the first-frame reconstruction term of Eq. 6 falls clearly, the adversarial terms stay
  bounded (no collapse of either player), and FVD16 of the EMA StyleInV model against the training
  clips falls clearly below its value at initialisation (same seeds, same counts).

Loss means come from each run's ``log.jsonl``. Prints a table with PASS/FAIL per criterion and
writes every number to ``--out`` (JSON, atomically). FVD at 48-64 videos per side is strongly
biased upwards in absolute value (400-d logits, few samples); only the before/after comparison
matters. References put it in scale: the stage-1 generator's G(w0) as a still video, still real
videos (a real frame repeated: a perfect generator without motion), a second draw of real training
clips, and the real clips re-rendered by G from per-frame stage-2 inversions (moving, and held at
frame 0): the motion this G can draw along a W path, roughly the best stage 3 can reach.
``--photos N`` draws the videos from the first N face photos only (fewer identities: stage 1 gets
usable in fewer steps). Stage 3 trains with STAGE3_CHECK_OVERRIDES on top of the demo config
(``--demo-stage3``: without them).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_learning_check.py \
        [--stage1-steps 300] [--stage2-steps 400] [--stage3-steps 150] [--fvd-videos 48] [--photos N] [--set ...]
        [--workdir DIR [--stage1-run RUN] [--stage2-run RUN]] [--recheck RESULT.json]

The recipe that passes every criterion (docs/bench_train.md, about 2 h 5 min on two cores: 2598 s + 4869 s): a
3000-step stage 1 (``--workdir W1 --photos 4 --stage1-steps 3000 --set stage1.use_noise=false``),
then 3000 more stage-1 steps with path-length regularisation and stage 3 with a slower temporal
embedding (``--workdir W2 --photos 4 --stage1-steps 3000 --stage3-steps 1200 --set stage1.use_noise=false
--set stage1.init_from=W1/runs/00000-stage1-stage1/checkpoints/ckpt-00003000.safetensors
--set stage1.pl_weight=2.0 --set stage3.temporal.min_period=16.0 --set stage3.temporal.max_period=64.0
--set stage3.lambda_adv=1.0 --set stage3.g_lr=0.001``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# thresholds (see docs/bench_train.md for the reasons)


@dataclass(frozen=True)
class Thresholds:
    stage1_d_drop: float = 0.10  # loss_D (last 10 %) must be below 2 ln 2 - this
    stage1_g_rise: float = 0.10  # loss_G (last 10 %) must be above ln 2 + this
    stage1_r1_median_max: float = 1.0  # median logged R1 loss (gamma/2 |grad|^2 interval), 2nd half, at most
    stage2_l2_ratio: float = 0.7  # stage-2 loss_l2 last/first below this
    stage3_l2_ratio: float = 0.7  # stage-3 loss_G_l2 last/first below this
    stage3_adv_max: float = 3.0  # every adversarial mean (loss_G_adv, loss_D_real, loss_D_fake) below this
    stage3_d_min: float = 0.3  # loss_D (last 10 %) above this: D has not won outright
    fvd_ratio: float = 0.8  # FVD16 after / FVD16 at init below this


# Stage-3 settings of this check on top of the demo config (measured in docs/bench_train.md): with the
# demo values (lambda_adv 1, d_lr 0.002, no augmentation) the video discriminator wins outright within
# ~50 steps on 24 clips (loss_D 0.03) and the first-frame reconstruction term rises 2.5x. The authors'
# lambda_adv 0.1 lets the reconstruction fall; ADA and d_lr = 4 x g_lr -> 1 x keep D from winning.
STAGE3_CHECK_OVERRIDES = [
    "stage3.lambda_adv=0.1", "stage3.d_lr=0.0005", "stage3.r1_gamma=1.0",
    "stage3.augment.pipeline=bgc", "stage3.augment.target=0.6", "stage3.augment.speed_kimg=5",
]


# ---------------------------------------------------------------------------------------------
# logs


def read_log(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    if not rows:
        raise RuntimeError(f"{path}: the run logged nothing; lower run.log_every")
    return rows


def window_means(rows: list[dict[str, Any]], total_steps: int, fraction: float = 0.1) -> dict[str, dict[str, float]]:
    """Means of every logged scalar over the log lines in the first and last `fraction` of the steps.

    Each log line is already the mean over its `log_every` steps, so lines are averaged equally."""
    span = max(1, math.ceil(total_steps * fraction))
    first = [r for r in rows if r["step"] <= span]
    last = [r for r in rows if r["step"] > total_steps - span]
    if not first:
        first = rows[:1]
    if not last:
        last = rows[-1:]
    skip = {"step", "kimg", "time", "sec_per_kimg"}

    def mean(group: list[dict[str, Any]]) -> dict[str, float]:
        keys = sorted({k for r in group for k in r if k not in skip})
        out = {}
        for key in keys:
            values = [r[key] for r in group if r.get(key) is not None]
            if values:
                out[key] = sum(values) / len(values)
        return out

    means_last = mean(last)
    fallback = {}
    for key in sorted({k for r in rows for k in r if k not in skip} - set(means_last)):
        # a lazily logged term (R1 every r1_interval steps) may miss the window: its last logged value
        logged = [r for r in rows if r.get(key) is not None]
        if logged:
            means_last[key] = logged[-1][key]
            fallback[key] = logged[-1]["step"]
    start = {k: v for k, v in rows[0].items() if k not in skip and v is not None}
    return {"start": start, "start_step": rows[0]["step"], "first": mean(first), "last": means_last,
            "window_steps": span, "first_lines": len(first), "last_lines": len(last), "last_from_step": fallback}


def r1_summary(rows: list[dict[str, Any]], total_steps: int) -> dict[str, Any]:
    """Every logged R1 value, and the median and max over the second half of the run."""
    logged = [(r["step"], r.get("r1_penalty")) for r in rows if "r1_penalty" in r]
    second = sorted(v for step, v in logged if step > total_steps / 2 and v is not None)
    finite = all(v is not None and math.isfinite(v) for _, v in logged)
    median = (second[len(second) // 2] if len(second) % 2 else 0.5 * (second[len(second) // 2 - 1]
              + second[len(second) // 2])) if second else float("nan")
    return {"values": logged, "all_finite": finite, "second_half_median": median,
            "second_half_max": max(second) if second else float("nan")}


# ---------------------------------------------------------------------------------------------
# training


def common_overrides(stage: str, steps: int, threads: int, log_every: int) -> list[str]:
    return [
        "run.device=cpu", "run.tensorboard=false", "run.snapshot_every=0", "run.metrics_every=0",
        f"run.log_every={log_every}", f"run.checkpoint_every={steps}", "run.keep_checkpoints=1",
        "run.loader_threads=1", f"run.cpu_threads={threads}",
        f"{stage}.total_kimg=100000", f"{stage}.max_steps={steps}",
    ]


def run_one(stage: str, overrides: list[str], manifest: Path, outdir: Path, seed: int,
            generator: Path | None = None, encoder: Path | None = None, keep_stage: bool = False):
    """Train one stage in this process; returns (RunResult, stage object or None)."""
    from styleinv_model.train.cli import build_config, stage_class
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.loop import run_stage

    config = build_config(stage, "demo", tuple(overrides), outdir, seed, "cpu", None, generator, encoder, None)
    stage_obj = stage_class(stage)(config, manifest, DistInfo(), _cpu())
    result = run_stage(stage_obj, run_name=stage, progress=False)
    if result.last_checkpoint is None:
        raise RuntimeError(f"{stage}: no checkpoint was written in {result.run_dir}")
    return result, (stage_obj if keep_stage else None)


def finished_run(run_dir: Path, stage: str):
    """A RunResult for an earlier run folder of `stage` (its latest checkpoint and its log)."""
    from styleinv_model.train.loop import RunResult
    from styleinv_model.train.state import latest_checkpoint

    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise SystemExit(f"{run_dir}: no checkpoint in this {stage} run folder; pass a finished run")
    rows = read_log(run_dir / "log.jsonl")
    return RunResult(run_dir, int(rows[-1]["step"]), checkpoint, float(rows[-1]["time"]), {})


def _cpu():
    import torch

    return torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# FVD16


class FVD:
    """FVD16 against the training clips: the real side's statistics are computed once."""

    def __init__(self, manifest: Path, count: int, batch: int = 4) -> None:
        from styleinv_model.metrics.evaluate import SideSpec, side_statistics
        from styleinv_model.metrics.manifest_source import ManifestVideoSource
        from styleinv_model.metrics.networks import I3DExtractor
        from styleinv_model.metrics.protocols import resolve_protocol

        self.count = count
        self.batch = batch
        self.protocol = resolve_protocol("fvd16", count)
        self.extractor = I3DExtractor.load(device="cpu")
        self.fn = lambda clips: self.extractor(clips, self.protocol.resolution)
        real = SideSpec(ManifestVideoSource.open(manifest), "class_aware", seed=0, label="real")
        started = time.perf_counter()
        self.real_stats, self.real_info = side_statistics(real, self.protocol, self.fn, self.extractor.weights.sha256,
                                                          batch, None)
        self.real_seconds = time.perf_counter() - started

    def _score(self, side: Any) -> float:
        """FVD16 of one side (a SideSpec) against the real statistics."""
        from styleinv_model.metrics.evaluate import side_statistics
        from styleinv_model.metrics.frechet import frechet_distance_stats

        stats, _ = side_statistics(side, self.protocol, self.fn, self.extractor.weights.sha256, self.batch, None)
        return float(frechet_distance_stats(stats, self.real_stats))

    def of_model(self, model: Any, seed: int) -> tuple[float, float]:
        """(FVD16, seconds) of `count` videos of a StyleInV generator, seeds seed .. seed + count - 1."""
        from styleinv_model.train.periodic_metrics import generate_videos

        started = time.perf_counter()
        videos = generate_videos(model, self.count, self.protocol.num_frames, seed, _cpu())
        return self.of_videos(videos, name="generated"), time.perf_counter() - started

    def of_videos(self, videos: list, name: str = "reference") -> float:
        from styleinv_model.metrics.evaluate import SideSpec
        from styleinv_model.metrics.sources import ArrayVideoSource

        return self._score(SideSpec(ArrayVideoSource(videos, name=name), "first", seed=0, label="fake"))

    def real_vs_real(self, manifest: Path, seed: int = 1) -> float:
        """FVD16 of another draw of training clips (sampling seed `seed`) against the real side: the
        floor at this sample size (clips of the same 24 videos, so an optimistic one)."""
        from styleinv_model.metrics.evaluate import SideSpec
        from styleinv_model.metrics.manifest_source import ManifestVideoSource

        return self._score(SideSpec(ManifestVideoSource.open(manifest), "class_aware", seed=seed, label="real2"))

    def real_clips(self, manifest: Path, seed: int = 1) -> list:
        """`count` 16-frame training clips (uint8 [16, H, W, 3]) of another class-aware draw."""
        import numpy as np

        from styleinv_model.metrics.manifest_source import ManifestVideoSource
        from styleinv_model.metrics.sampling import plan_clips

        source = ManifestVideoSource.open(manifest)
        frames, stride = self.protocol.num_frames, self.protocol.frame_stride
        plan = plan_clips([source.frame_count(i) for i in range(len(source))], self.count, frames, stride,
                          "class_aware", seed, "real_still")
        clips = []
        for clip in plan.clips:
            indices = [clip.start + k * stride for k in range(frames)]
            read = source.read_frames(clip.video_index, indices)
            clips.append(np.stack([read[i] for i in indices]))
        return clips

    def real_still(self, clips: list) -> float:
        """FVD16 of still real videos (the first frame of each of `clips`, from :meth:`real_clips`,
        repeated) against the real side: what a perfect image generator with no motion scores, i.e.
        how much of the gap to `real_vs_real` is motion."""
        import numpy as np

        return self.of_videos([np.ascontiguousarray(np.broadcast_to(c[0], c.shape)) for c in clips])

    def real_w_path(self, clips: list, generator: Path, encoder: Path) -> tuple[float, float]:
        """(FVD16 of `clips` (from :meth:`real_clips`) re-rendered through the stage-1 G from
        per-frame stage-2 inversions, the same with frame 0's inversion held): the motion this G
        draws along a W path, i.e. roughly the best stage 3 (which moves w0 in W over the frozen G)
        can do."""
        from styleinv_model.checkpoints.networks import load_inversion_encoder
        from styleinv_model.train.pretrained import load_frozen_generator

        moving, held = w_path_videos(clips, load_frozen_generator(generator), load_inversion_encoder(encoder))
        return self.of_videos(moving), self.of_videos(held)


def w_path_videos(clips: list, G: Any, encoder: Any) -> tuple[list, list]:
    """Each real clip (uint8 [T, H, W, 3]) as G(E(x_t) + w_avg) frame by frame (stage 2's inversion,
    G's stored noise), and as its inverted first frame repeated T times."""
    import torch

    from styleinv_model.generate import to_uint8
    from styleinv_model.styleinv.generator import synthesize

    moving, held = [], []
    with torch.no_grad():
        for clip in clips:
            x = torch.from_numpy(clip).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            w = encoder(x) + G.mapping.w_avg.to(x.dtype)
            frames = synthesize(G, w, noise_mode="const").unsqueeze(0)
            moving.append(to_uint8(frames)[0])
            held.append(to_uint8(frames[:, :1].expand_as(frames))[0])
    return moving, held


def static_videos(model: Any, count: int, frames: int, seed: int, batch: int = 8) -> list:
    """G(w0) repeated `frames` times, for the same z as generate_videos: the stage-1 generator's
    appearance with no motion (what stage 3 cannot change: it keeps G frozen)."""
    import torch

    from styleinv_model.generate import to_uint8

    out = []
    with torch.no_grad():
        for start in range(0, count, batch):
            n = min(batch, count - start)
            z = torch.randn(n, model.z_dim, generator=torch.Generator().manual_seed(seed + start))
            first = model.synthesize(model.initial_latents(z), noise_mode="const")
            out.extend(to_uint8(first.unsqueeze(1).expand(-1, frames, -1, -1, -1)))
    return out


def stage3_at_init(overrides: list[str], manifest: Path, outdir: Path, seed: int, generator: Path, encoder: Path):
    """The EMA StyleInV model exactly as the stage-3 run starts (same seed, same build)."""
    import torch

    from styleinv_model.train.cli import build_config
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.stage3 import Stage3

    config = build_config("stage3", "demo", tuple(overrides), outdir, seed, "cpu", None, generator, encoder, None)
    torch.manual_seed(config.run.seed)  # as run_stage does before build()
    stage = Stage3(config, manifest, DistInfo(), _cpu())
    stage.build()
    return stage.ema_model()


# ---------------------------------------------------------------------------------------------
# report


def stage3_lambda_adv(sets3: list[str]) -> float:
    from styleinv_model.train.config import load_stage_config

    return float(load_stage_config("stage3", "demo", sets3).settings.lambda_adv)


def criteria(s1: dict, s2: dict, s3: dict, fvd: dict, th: Thresholds, lambda_adv: float = 1.0) -> list[dict[str, Any]]:
    f1, l1 = s1["first"], s1["last"]
    f2, l2 = s2["first"], s2["last"]
    f3, l3 = s3["first"], s3["last"]
    rows = []

    def add(name: str, value: float, rule: str, ok: bool) -> None:
        rows.append({"criterion": name, "value": value, "rule": rule, "pass": bool(ok)})

    add("stage1 loss_D last", l1["loss_D"], f"< 2ln2 - {th.stage1_d_drop} = {2 * LN2 - th.stage1_d_drop:.3f}",
        l1["loss_D"] < 2 * LN2 - th.stage1_d_drop)
    add("stage1 loss_G last", l1["loss_G"], f"> ln2 + {th.stage1_g_rise} = {LN2 + th.stage1_g_rise:.3f}",
        l1["loss_G"] > LN2 + th.stage1_g_rise)
    r1 = s1["r1"]["second_half_median"]
    add("stage1 R1 median, 2nd half", r1, f"all finite, <= {th.stage1_r1_median_max}",
        s1["r1"]["all_finite"] and math.isfinite(r1) and r1 <= th.stage1_r1_median_max)
    add("stage1 real_sign last", l1["real_sign"], "> 0 (D calls most reals real)", l1["real_sign"] > 0)
    ratio2 = l2["loss_l2"] / f2["loss_l2"]
    add("stage2 loss_l2 last/first", ratio2, f"< {th.stage2_l2_ratio}", ratio2 < th.stage2_l2_ratio)
    ratio3 = l3["loss_G_l2"] / f3["loss_G_l2"]
    add("stage3 loss_G_l2 last/first", ratio3, f"< {th.stage3_l2_ratio}", ratio3 < th.stage3_l2_ratio)
    # loss_G_adv is logged weighted by lambda_adv: compare the unweighted softplus(-D) mean
    adv = max(l3["loss_G_adv"] / lambda_adv, l3["loss_D_real"], l3["loss_D_fake"])
    add("stage3 max(adv terms) last", adv, f"< {th.stage3_adv_max}", math.isfinite(adv) and adv < th.stage3_adv_max)
    add("stage3 loss_D last", l3["loss_D"], f"> {th.stage3_d_min}", l3["loss_D"] > th.stage3_d_min)
    ratio_fvd = fvd["after"] / fvd["init"]
    add("stage3 FVD16 after/init", ratio_fvd, f"< {th.fvd_ratio}", ratio_fvd < th.fvd_ratio)
    return rows


def loss_table(name: str, windows: dict) -> list[str]:
    n = windows["window_steps"]
    lines = [f"{name}", f"  {'loss':<14} {'steps 1-' + str(windows['start_step']):>10} {'first ' + str(n):>10} "
             f"{'last ' + str(n):>10}  last/first"]
    for key in windows["first"]:
        a, b = windows["first"][key], windows["last"].get(key, float("nan"))
        s = windows["start"].get(key, float("nan"))
        ratio = b / a if a != 0.0 and math.isfinite(a) else float("nan")
        lines.append(f"  {key:<14} {s:>10.4f} {a:>10.4f} {b:>10.4f}  {ratio:9.3f}")
    r1 = windows["r1"]
    if r1["values"]:
        lines.append(f"  R1 logged: median (2nd half) {r1['second_half_median']:.4f}, max (2nd half) "
                     f"{r1['second_half_max']:.4f}, all finite {r1['all_finite']}")
    return lines


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    os.replace(tmp, path)


def machine_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    try:
        info["loadavg_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def recheck(path: Path) -> int:
    """Recompute and rewrite the criteria of a result JSON (thresholds or rules changed since)."""
    report = json.loads(path.read_text())
    stages, th = report["stages"], Thresholds()
    lambda_adv = stage3_lambda_adv(report["overrides"]["stage3"])
    report["fvd16"]["stage3_lambda_adv"] = lambda_adv
    report["thresholds"] = asdict(th)
    report["criteria"] = criteria(stages["stage1"], stages["stage2"], stages["stage3"], report["fvd16"], th, lambda_adv)
    report["all_pass"] = all(c["pass"] for c in report["criteria"])
    write_json_atomic(path, report)
    for c in report["criteria"]:
        print(f"{c['criterion']:<30} {c['value']:>10.4f}  {c['rule']:<34} {'PASS' if c['pass'] else 'FAIL'}")
    print(f"all criteria: {'PASS' if report['all_pass'] else 'FAIL'} (rechecked {path})")
    return 0 if report["all_pass"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--photos", type=int, default=None,
                        help="draw the videos from the first N face photos only (identities; default: all 21)")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--stage1-steps", type=int, default=300)
    parser.add_argument("--stage2-steps", type=int, default=400)
    parser.add_argument("--stage3-steps", type=int, default=150)
    parser.add_argument("--fvd-videos", type=int, default=48, help="videos per side of FVD16")
    parser.add_argument("--fvd-seed", type=int, default=1000, help="first z/motion seed of the generated videos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (run.cpu_threads)")
    parser.add_argument("--log-every", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="extra config overrides for every stage (e.g. stage3.g_lr=0.001); repeatable")
    parser.add_argument("--stage1-run", type=Path, default=None,
                        help="reuse a finished stage-1 run folder of an earlier check (same --workdir data)")
    parser.add_argument("--stage2-run", type=Path, default=None, help="reuse a finished stage-2 run folder")
    parser.add_argument("--demo-stage3", action="store_true",
                        help="train stage 3 with the demo config's values (no STAGE3_CHECK_OVERRIDES)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the dataset and runs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=RESULTS / "train_learning_check.json")
    parser.add_argument("--recheck", type=Path, default=None,
                        help="recompute the criteria of an earlier result JSON with the current thresholds, no training")
    args = parser.parse_args(argv)
    if args.recheck is not None:
        return recheck(args.recheck)
    for name in ("stage1_steps", "stage2_steps", "stage3_steps", "fvd_videos", "videos", "frames"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.frames < 16:
        parser.error("--frames must be >= 16 (FVD16 needs 16-frame clips)")
    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces

    try:
        data_cfg = MovingFacesConfig(num_videos=args.videos, frames=args.frames, size=args.size, seed=args.seed,
                                     photos=args.photos)
    except ValueError as error:  # its messages name the field: "photos must be ..."
        parser.error(f"--{error}")

    import torch

    # import every training module now: the run then uses one consistent version of the code
    import styleinv_model.train.stage1  # noqa: F401
    import styleinv_model.train.stage2  # noqa: F401
    import styleinv_model.train.stage3  # noqa: F401
    import styleinv_model.train.periodic_metrics  # noqa: F401

    torch.set_num_threads(args.threads)

    th = Thresholds()
    started = time.perf_counter()
    info = machine_info()
    work = args.workdir if args.workdir is not None else Path(tempfile.mkdtemp(prefix="styleinv_learning_"))
    cleanup = args.workdir is None
    try:
        t0 = time.perf_counter()
        manifest = write_moving_faces(work / "data", data_cfg)
        data_seconds = time.perf_counter() - t0
        runs = work / "runs"
        extra = list(args.overrides)
        sets1 = common_overrides("stage1", args.stage1_steps, args.threads, args.log_every) + extra
        sets2 = common_overrides("stage2", args.stage2_steps, args.threads, args.log_every) + extra
        sets3 = (common_overrides("stage3", args.stage3_steps, args.threads, args.log_every)
                 + ([] if args.demo_stage3 else STAGE3_CHECK_OVERRIDES) + extra)
        results: dict[str, Any] = {}
        print(f"data: {args.videos} videos x {args.frames} frames at {args.size}² in {data_seconds:.1f} s", flush=True)

        if args.stage1_run is not None:
            r1 = finished_run(args.stage1_run, "stage1")
            args.stage1_steps = r1.steps_done
        else:
            r1, _ = run_one("stage1", sets1, manifest, runs, args.seed)
        print(f"stage1: {r1.steps_done} steps in {r1.seconds:.0f} s", flush=True)
        if args.stage2_run is not None:
            r2 = finished_run(args.stage2_run, "stage2")
            args.stage2_steps = r2.steps_done
        else:
            r2, _ = run_one("stage2", sets2, manifest, runs, args.seed, generator=r1.last_checkpoint)
        print(f"stage2: {r2.steps_done} steps in {r2.seconds:.0f} s", flush=True)

        fvd = FVD(manifest, args.fvd_videos)
        print(f"FVD16 real side: {args.fvd_videos} clips in {fvd.real_seconds:.0f} s", flush=True)
        init_model = stage3_at_init(sets3, manifest, runs / "init", args.seed, r1.last_checkpoint, r2.last_checkpoint)
        fvd_init, sec_init = fvd.of_model(init_model, args.fvd_seed)
        fvd_static = fvd.of_videos(static_videos(init_model, args.fvd_videos, 16, args.fvd_seed))
        fvd_real = fvd.real_vs_real(manifest)
        real_clips = fvd.real_clips(manifest)  # read once for both references
        fvd_real_still = fvd.real_still(real_clips)
        fvd_w_path, fvd_w_held = fvd.real_w_path(real_clips, r1.last_checkpoint, r2.last_checkpoint)
        print(f"FVD16 references: stage-1 G(w0) static {fvd_static:.1f}, real still {fvd_real_still:.1f}, "
              f"real vs real {fvd_real:.1f}; real clips through G's W (stage-2 inversions) {fvd_w_path:.1f}, "
              f"held at frame 0 {fvd_w_held:.1f}", flush=True)
        del init_model
        shutil.rmtree(runs / "init", ignore_errors=True)
        print(f"FVD16 at init: {fvd_init:.1f} ({sec_init:.0f} s)", flush=True)

        r3, stage3 = run_one("stage3", sets3, manifest, runs, args.seed, generator=r1.last_checkpoint,
                             encoder=r2.last_checkpoint, keep_stage=True)
        print(f"stage3: {r3.steps_done} steps in {r3.seconds:.0f} s", flush=True)
        fvd_after, sec_after = fvd.of_model(stage3.ema_model(), args.fvd_seed)
        print(f"FVD16 after: {fvd_after:.1f} ({sec_after:.0f} s)", flush=True)

        windows = {}
        for name, result, steps in (("stage1", r1, args.stage1_steps), ("stage2", r2, args.stage2_steps),
                                    ("stage3", r3, args.stage3_steps)):
            rows = read_log(result.run_dir / "log.jsonl")
            windows[name] = window_means(rows, steps)
            windows[name]["r1"] = r1_summary(rows, steps)
            results[name] = {"steps": result.steps_done, "seconds": result.seconds, **windows[name]}
        fvd_numbers = {"init": fvd_init, "after": fvd_after, "stage1_static": fvd_static, "real_still": fvd_real_still,
                       "real_vs_real": fvd_real, "real_w_path": fvd_w_path, "real_w_path_held": fvd_w_held,
                       "videos_per_side": args.fvd_videos,
                       "seed": args.fvd_seed, "real_sampling": "class_aware seed 0",
                       "seconds": {"real": fvd.real_seconds, "init": sec_init, "after": sec_after}}
        lambda_adv = stage3_lambda_adv(sets3)
        fvd_numbers["stage3_lambda_adv"] = lambda_adv
        checks = criteria(windows["stage1"], windows["stage2"], windows["stage3"], fvd_numbers, th, lambda_adv)
        total_seconds = time.perf_counter() - started
        try:
            info["loadavg_end"] = list(os.getloadavg())
        except OSError:
            pass
        report = {
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "dataset": asdict(data_cfg), "overrides": {"stage1": sets1, "stage2": sets2, "stage3": sets3},
            "thresholds": asdict(th), "stages": results, "fvd16": fvd_numbers, "criteria": checks,
            "all_pass": all(c["pass"] for c in checks), "wall_seconds": total_seconds, "machine": info,
        }
        write_json_atomic(args.out, report)
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)

    lines = []
    for name in ("stage1", "stage2", "stage3"):
        lines += loss_table(f"{name}: {results[name]['steps']} steps, {results[name]['seconds']:.0f} s", windows[name])
    lines.append(f"FVD16 ({args.fvd_videos} videos/side, biased at this size): init {fvd_init:.1f} -> "
                 f"after {fvd_after:.1f}  (after/init {fvd_after / fvd_init:.3f}); references: stage-1 G(w0) "
                 f"static {fvd_static:.1f}, real still {fvd_real_still:.1f}, real vs real {fvd_real:.1f}, real W path "
                 f"{fvd_w_path:.1f} (held {fvd_w_held:.1f})")
    lines.append("")
    lines.append(f"{'criterion':<30} {'value':>10}  {'rule':<34} result")
    for c in checks:
        lines.append(f"{c['criterion']:<30} {c['value']:>10.4f}  {c['rule']:<34} {'PASS' if c['pass'] else 'FAIL'}")
    lines.append(f"all criteria: {'PASS' if report['all_pass'] else 'FAIL'}; wall {total_seconds:.0f} s; "
                 f"results in {args.out}")
    print("\n".join(lines))
    return 0 if report["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
