"""Run a crop recipe: one task per video (plan -> render -> write), joblib or Dask, resumable.

Rendering itself is :mod:`styleinv_data.pipeline.render`.

``run_video`` is the whole life of one video and never raises: any error becomes a ``failed``
status with a one-line reason, so one bad video never stops the batch. ``run_batch`` finds the
tasks, skips finished ones, runs the rest in parallel with a progress bar and prints a summary.
"""

from __future__ import annotations

import errno
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from styleinv_data.crop.plan import CropPlan
from styleinv_data.io.probe import probe_source
from styleinv_data.io.source import iter_source_frames
from styleinv_data.io.writers import remove_path
from styleinv_data.output_layout import FRAMES_FOLDER
from styleinv_data.pipeline.output_lock import not_writable, output_lock
from styleinv_data.pipeline.outputs import assemble_zip, move_legacy_frame_folders, remove_outputs
from styleinv_data.pipeline.render import render_segments, render_streamed
from styleinv_data.pipeline.recipe import CropRecipe, RecipeError
from styleinv_data.pipeline.shards import parse_shard, shard_of
from styleinv_data.pipeline.status import (
    meta_dir,
    partial_dir,
    plan_path,
    read_status,
    shard_name,
    status_path,
    write_status,
    write_text_atomic,
)
from styleinv_data.pipeline.strategies import build_strategy, get_strategy_spec, resolve_options
from styleinv_data.pipeline.tasks import VideoTask, discover_sources


@dataclass
class VideoResult:
    video_id: str
    state: str  # done | failed | skipped
    reason: str | None = None
    frames_out: int = 0
    elapsed_s: float = 0.0
    out_ids: list[str] = field(default_factory=list)
    interpolated: int = 0  # frames whose box was interpolated / reused (empty or missing evidence)
    note: str | None = None  # why a done video wrote no frames (e.g. "no face found in any frame")


@dataclass
class BatchSummary:
    out_root: Path
    done: int = 0
    skipped: int = 0
    failed: int = 0
    frames_out: int = 0
    elapsed_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    stale_params: int = 0  # skipped videos whose saved params differ from this run's
    interpolated: int = 0  # frames of this run's done videos with an interpolated / reused box
    empty: list[tuple[str, str]] = field(default_factory=list)  # done videos that wrote no frames, and why
    notes: list[str] = field(default_factory=list)  # extra lines for the console
    not_run: int = 0  # --summary: videos of the batch with no status yet (a shard has not done them)

    @property
    def frames_per_s(self) -> float:
        return self.frames_out / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def add(self, result: "VideoResult") -> list[str]:
        """Count one video's result; returns the clips it wrote (done) or none (failed)."""
        if result.state != "done":
            self.failed += 1
            self.failures.append((result.video_id, result.reason or "unknown error"))
            return []
        self.done += 1
        self.frames_out += result.frames_out
        self.interpolated += result.interpolated
        if not result.out_ids:
            self.empty.append((result.video_id, result.note or "no frames to write"))
        return result.out_ids

    def lines(self) -> list[str]:
        out = [
            f"crop summary: {self.done} done, {self.skipped} skipped, {self.failed} failed; "
            f"{self.frames_out} frames in {self.elapsed_s:.1f} s ({self.frames_per_s:.1f} frames/s) -> {self.out_root}"
        ]
        if self.interpolated:
            out.append(f"note: {self.interpolated} frame(s) had an empty or missing mask/face and got an interpolated box "
                       "(per video: counts.interpolated in OUT/_meta/<id>.status.json)")
        if self.stale_params:
            out.append(f"note: {self.stale_params} skipped video(s) were made with other parameters; use --overwrite to redo them")
        if self.empty:
            out.append(f"note: {len(self.empty)} video(s) finished without writing a frame (nothing to crop in "
                       "them; they are not in the dataset)")
        if self.not_run:
            out.append(f"note: {self.not_run} video(s) have no status yet: a shard has not cropped them (or is still "
                       "running); run it, then --summary again")
        out += self.notes
        out += [f"no output: {vid}: {reason}" for vid, reason in self.empty]
        out += [f"failed: {vid}: {reason}" for vid, reason in self.failures]
        return out


def run_params(recipe: CropRecipe) -> dict[str, Any]:
    """The recipe values that determine a video's output (compared on resume)."""
    spec = get_strategy_spec(recipe.strategy, recipe.plugins)
    out = recipe.output
    return {
        "strategy": recipe.strategy,
        "options": resolve_options(spec, recipe),
        "crop": {"box_mode": recipe.crop.box_mode, "smooth_sigma": recipe.crop.smooth_sigma,
                 "pad_mode": recipe.crop.pad_mode, "pad_value": recipe.crop.pad_value},
        "output": {"layout": out.layout, "image_format": out.image_format, "jpeg_quality": out.jpeg_quality,
                   "size": out.size, "mp4_crf": out.mp4_crf},
    }


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


_FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def failure_reason(error: BaseException, source: Path, out_root: Path) -> str:
    """One line saying why a video failed, naming the file and the fix: the output path for a full
    disk or an unwritable output, else the source video (when the message does not name it yet)."""
    if isinstance(error, OSError) and error.errno in _FULL_DISK + _NOT_WRITABLE:
        where = error.filename or out_root
        if error.errno in _FULL_DISK:
            return (f"no space left on the device writing {where} ({error.strerror}): free space on it, or crop "
                    "into a folder on another disk, then re-run (finished videos are kept)")
        if str(where).startswith(str(out_root)):
            return (f"cannot write {where} ({error.strerror}): fix the output folder's permissions or crop into "
                    "another folder, then re-run")
    text = _one_line(error)
    return text if str(source) in text or Path(source).name in text else f"{source}: {text}"


def run_video(task: VideoTask, recipe: CropRecipe) -> VideoResult:
    """Plan, render and write one video; record its status. Never raises (except KeyboardInterrupt)."""
    out_root = Path(recipe.output.root or ".")
    start = time.perf_counter()
    status: dict[str, Any] = {
        "video_id": task.video_id,
        "state": "failed",
        "reason": None,
        "strategy": recipe.strategy,
        "params": {},
        "outputs": [],
        "counts": {},
        "source": str(task.source),
        "fps": None,
        "elapsed_s": 0.0,
    }
    try:
        status["params"] = run_params(recipe)
        previous = read_status(out_root, task.video_id)
        # Forget the previous result first: a crash from here on leaves the video "unfinished".
        remove_path(status_path(out_root, task.video_id))
        if previous:
            remove_outputs(recipe, out_root, [o["out_id"] for o in previous.get("outputs", []) if "out_id" in o])
        info = probe_source(task.source)
        status["fps"] = info.fps
        strategy = build_strategy(recipe)
        previous_plan = None
        sidecar = plan_path(out_root, task.video_id)
        if recipe.run.reuse_plan and sidecar.is_file():
            previous_plan = CropPlan.load(sidecar)
        threads = recipe.run.decode_threads

        def open_frames():
            return iter_source_frames(task.source, threads=threads, info=info)

        def open_render_frames():
            """The strategy's own decode for rendering when it has one (the mask strategy's in-process
            yuv420p planes), else the RGB frames."""
            opener = getattr(strategy, "open_render_frames", None)
            own = opener() if callable(opener) else None
            return own if own is not None else open_frames()

        options = resolve_options(get_strategy_spec(recipe.strategy, recipe.plugins), recipe)
        inputs = dict(info=info, open_frames=open_frames, previous_plan=previous_plan, recipe=recipe, options=options,
                      **task.inputs)
        stream = getattr(strategy, "plan_stream", None)
        frame_plans = stream(task.video_id, task.source, **inputs) if callable(stream) else None
        if frame_plans is not None:
            # single pass: the plan is produced frame by frame alongside the decode, saved afterwards
            sink, decoded, probe = render_streamed(strategy, frame_plans, info.num_frames, task.video_id, recipe,
                                                    out_root, open_render_frames(), info.fps)
            try:
                plan = strategy.streamed_plan
                plan.save(sidecar)
                written = sink.commit()
            except BaseException:
                sink.abort()
                raise
            quality = probe.quality(plan.frames, recipe.output.size, plan.source_size)
            outputs = [{"out_id": task.video_id, "frames": written, "source_start": 0, "source_stop": info.num_frames,
                        "quality": quality}]
        else:
            plan = strategy.plan(task.video_id, task.source, **inputs)
            plan.save(sidecar)
            outputs, decoded = render_segments(strategy, plan, recipe, out_root, open_render_frames(), info.fps,
                                                info.num_frames)
        status["outputs"] = outputs
        status["counts"] = {
            "frames_in": info.num_frames,
            "frames_decoded": decoded,
            "frames_out": sum(o["frames"] for o in outputs),
            **plan.stats,
        }
        status["state"] = "done"
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - one bad video never stops the batch
        status["reason"] = failure_reason(e, Path(task.source), out_root)
        if os.environ.get("STYLEINV_DEBUG"):
            status["traceback"] = traceback.format_exc()
    status["elapsed_s"] = round(time.perf_counter() - start, 3)
    try:
        write_status(out_root, status)
    except OSError as e:
        status["state"], status["reason"] = "failed", f"cannot write status: {_one_line(e)}"
    return _result_from_status(status)


def discover_tasks(recipe: CropRecipe) -> list[VideoTask]:
    spec = get_strategy_spec(recipe.strategy, recipe.plugins)
    options = resolve_options(spec, recipe)
    tasks = spec.discover(options, recipe) if spec.discover else discover_sources(recipe)
    if recipe.run.limit is not None:
        tasks = tasks[: recipe.run.limit]
    return tasks


def prepare_output(recipe: CropRecipe) -> Path:
    """Create ``OUT/_meta`` and check that it is writable (one-line error naming the folder)."""
    if not recipe.output.root:
        raise RecipeError("no output folder: give OUT on the command line or output.root in the recipe")
    out_root = Path(recipe.output.root)
    try:
        meta_dir(out_root).mkdir(parents=True, exist_ok=True)
        probe = meta_dir(out_root) / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        # stale partial outputs of an interrupted run (a shard's own only: the others may be running)
        remove_path(partial_dir(out_root, parse_shard(recipe.run.shard)))
        write_text_atomic(meta_dir(out_root) / "recipe.yaml", recipe.to_yaml())
    except OSError as e:
        raise not_writable(out_root, e) from e
    return out_root


def _parallel_results(tasks: list[VideoTask], recipe: CropRecipe) -> Iterable[VideoResult]:
    run = recipe.run
    if run.backend == "sequential" or (run.jobs == 1 and run.backend not in ("dask", "ray")):
        for task in tasks:
            yield run_video(task, recipe)
        return
    import joblib

    if run.backend == "ray":
        yield from _ray_results(tasks, recipe)
        return

    if run.backend == "dask":
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover
            raise RecipeError("--backend dask needs dask[distributed] (pip install 'dask[distributed]')") from e
        try:
            client = Client(run.scheduler, timeout=f"{run.scheduler_timeout_s}s", set_as_default=False)
        except OSError as e:
            raise RecipeError(f"cannot reach the Dask scheduler at {run.scheduler} ({e}); start one or fix --scheduler") from e
        with client, joblib.parallel_config(backend="dask", client=client):  # type: ignore[call-arg]
            # results as they finish: the progress bar and the status files advance during the run
            parallel = joblib.Parallel(n_jobs=run.jobs, return_as="generator_unordered")
            yield from parallel(joblib.delayed(run_video)(t, recipe) for t in tasks)
        return
    parallel = joblib.Parallel(n_jobs=run.jobs, backend=run.backend, return_as="generator_unordered")
    yield from parallel(joblib.delayed(run_video)(t, recipe) for t in tasks)


def _ray_results(tasks: list[VideoTask], recipe: CropRecipe) -> Iterable[VideoResult]:
    """``--backend ray``: joblib's Ray backend, on the cluster at ``run.scheduler`` (``auto``,
    ``ray://host:10001``, ``host:6379``) or on a local Ray started here with ``run.jobs`` CPUs.

    joblib's Ray backend hands results back only as a list, so they arrive when the batch ends
    (the status files are written by the workers as each video finishes)."""
    import joblib

    run = recipe.run
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError as e:  # pragma: no cover - ray is in the pinned environment
        raise RecipeError("--backend ray needs ray (pip install ray)") from e
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if run.scheduler:
                ray.init(address=run.scheduler, log_to_driver=False)
            else:
                ray.init(num_cpus=run.jobs, include_dashboard=False, log_to_driver=False,
                         object_store_memory=256 << 20)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RecipeError(f"cannot start or reach Ray at {run.scheduler or 'a local instance'} ({e}); "
                              "start the cluster (ray start --head) or fix --scheduler") from e
    register_ray()
    try:
        with joblib.parallel_config(backend="ray"):
            yield from joblib.Parallel(n_jobs=run.jobs)(joblib.delayed(run_video)(t, recipe) for t in tasks)
    finally:
        if started_here:
            ray.shutdown()


_WORKER_CRASHES = ("TerminatedWorkerError", "BrokenProcessPool", "KilledWorker")


def _is_worker_crash(error: BaseException) -> bool:
    return any(cls.__name__ in _WORKER_CRASHES for cls in type(error).__mro__)


def _result_from_status(status: dict[str, Any]) -> VideoResult:
    outputs = status.get("outputs") or []
    counts = status.get("counts") or {}
    state = status.get("state", "failed")
    return VideoResult(
        status["video_id"], state, status.get("reason"),
        frames_out=sum(o.get("frames", 0) for o in outputs), elapsed_s=status.get("elapsed_s", 0.0),
        out_ids=[o["out_id"] for o in outputs], interpolated=int(counts.get("interpolated", 0) or 0),
        note=counts.get("reason") if state == "done" and not outputs else None,
    )


def _record_crash(task: VideoTask, recipe: CropRecipe, error: BaseException) -> VideoResult:
    reason = f"the worker process died while cropping this video (a crash in native code; {_one_line(error)[:200]})"
    status = {"video_id": task.video_id, "state": "failed", "reason": reason, "strategy": recipe.strategy,
              "params": run_params(recipe), "outputs": [], "counts": {}, "source": str(task.source),
              "fps": None, "elapsed_s": 0.0}
    write_status(Path(recipe.output.root or "."), status)
    return _result_from_status(status)


def _results_surviving_crashes(tasks: list[VideoTask], recipe: CropRecipe, started_at: float) -> Iterable[VideoResult]:
    """``_parallel_results``, but a worker process that dies (segfault, OOM kill) does not stop the batch:
    videos it had finished keep their status; every other unfinished video then runs alone in a fresh
    worker process, so the crash is recorded as a failure of the video that causes it."""
    pending = {t.video_id: t for t in tasks}
    try:
        for result in _parallel_results(tasks, recipe):
            pending.pop(result.video_id, None)
            yield result
        return
    except Exception as e:  # noqa: BLE001 - only worker deaths are handled, the rest re-raised
        if not _is_worker_crash(e):
            raise
    import joblib

    out_root = Path(recipe.output.root or ".")
    for task in pending.values():
        path = status_path(out_root, task.video_id)
        status = read_status(out_root, task.video_id)
        if status is not None and path.stat().st_mtime >= started_at:
            yield _result_from_status(status)  # finished before the crash
            continue
        try:
            (result,) = joblib.Parallel(n_jobs=2, backend="loky")([joblib.delayed(run_video)(task, recipe)])
        except Exception as e:  # noqa: BLE001
            if not _is_worker_crash(e):
                raise
            result = _record_crash(task, recipe, e)
        yield result


def run_batch(recipe: CropRecipe, echo: Callable[[str], None] = print) -> BatchSummary:
    """Run every unfinished video of the recipe; write the summary to ``OUT/_meta/summary.json``."""
    recipe.validate()
    try:
        build_strategy(recipe)  # the strategy's options are checked once, before any video
    except ValueError as error:
        raise RecipeError(str(error)) from error
    tasks = discover_tasks(recipe)  # before anything is written: a bad input leaves OUT untouched
    if not recipe.output.root:
        raise RecipeError("no output folder: give OUT on the command line or output.root in the recipe")
    shard = parse_shard(recipe.run.shard)
    if shard is not None:
        tasks = [t for t in tasks if shard_of(t.video_id, shard[1]) == shard[0]]
    with output_lock(Path(recipe.output.root), shard):
        return _run_locked(recipe, tasks, echo)


def _run_locked(recipe: CropRecipe, tasks: list[VideoTask], echo: Callable[[str], None]) -> BatchSummary:
    """run_batch's work, under the output folder's lock."""
    out_root = prepare_output(recipe)
    params = run_params(recipe)
    summary = BatchSummary(out_root=out_root)
    todo: list[VideoTask] = []
    done_out_ids: list[str] = []
    previous_by_id = {task.video_id: read_status(out_root, task.video_id) for task in tasks}
    if recipe.output.layout == "frames":
        moved = move_legacy_frame_folders(out_root, [o["out_id"] for p in previous_by_id.values() if p
                                                     for o in p.get("outputs", []) if "out_id" in o])
        if moved:
            echo(f"moved {moved} clip folders of an earlier version's layout into {out_root / FRAMES_FOLDER}/")
    for task in tasks:
        previous = previous_by_id[task.video_id]
        if previous and previous.get("state") == "done" and not recipe.run.overwrite:
            summary.skipped += 1
            done_out_ids += [o["out_id"] for o in previous.get("outputs", [])]
            if previous.get("params") != json.loads(json.dumps(params)):
                summary.stale_params += 1
        else:
            todo.append(task)
    start, started_at = time.perf_counter(), time.time() - 1.0
    from styleinv_data.progress import progress_bar

    with progress_bar(total=len(todo), desc="crop", unit="video", disable=not recipe.run.progress or not todo) as bar:
        for result in _results_surviving_crashes(todo, recipe, started_at):
            done_out_ids += summary.add(result)
            bar.set_postfix(done=summary.done, failed=summary.failed, refresh=False)
            bar.update(1)
    shard = parse_shard(recipe.run.shard)
    if recipe.output.layout == "zip":
        if shard is None:
            assemble_zip(out_root, done_out_ids)
        else:
            summary.notes.append("note: shards do not write frames.zip; when every shard is done, run the same "
                                 "command with --summary instead of --shard to assemble it")
    summary.elapsed_s = time.perf_counter() - start
    summary.failures.sort()
    summary.empty.sort()
    write_text_atomic(
        meta_dir(out_root) / ("summary.json" if shard is None else f"summary.{shard_name(shard)}.json"),
        json.dumps({"done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
                    "frames_out": summary.frames_out, "elapsed_s": round(summary.elapsed_s, 3),
                    "frames_per_s": round(summary.frames_per_s, 2), "failures": summary.failures}, indent=1),
    )
    for line in summary.lines():
        echo(line)
    return summary


def summarize_batch(recipe: CropRecipe, echo: Callable[[str], None] = print) -> BatchSummary:
    """``--summary``: the state of the whole batch from its status files (after sharded runs), and
    ``frames.zip`` assembled for the zip layout. Crops nothing; holds the folder's lock exclusively."""
    recipe.validate()
    tasks = discover_tasks(recipe)
    out_root = Path(recipe.output.root or "")
    if not recipe.output.root or not meta_dir(out_root).is_dir():
        raise RecipeError(f"{out_root}: no crop output here yet; run the crop (or its shards) first")
    summary = BatchSummary(out_root=out_root)
    with output_lock(out_root):
        done_out_ids: list[str] = []
        for task in tasks:
            status = read_status(out_root, task.video_id)
            if status is None:
                summary.not_run += 1
            else:
                done_out_ids += summary.add(_result_from_status(status))
        if recipe.output.layout == "zip":
            assemble_zip(out_root, done_out_ids)
            summary.notes.append(f"assembled {out_root / 'frames.zip'} ({len(done_out_ids)} clips)")
        summary.failures.sort()
        summary.empty.sort()
        write_text_atomic(
            meta_dir(out_root) / "summary.json",
            json.dumps({"done": summary.done, "failed": summary.failed, "not_run": summary.not_run,
                        "frames_out": summary.frames_out, "failures": summary.failures}, indent=1),
        )
    for line in summary.lines():
        echo(line)
    return summary
