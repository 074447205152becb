"""Exact resume: N steps in one go equal N/2 steps, a stop, a resume and N/2 more (bitwise, CPU,
float32, one process), for every stage; checkpoints hold optimiser, EMA, ADA and RNG state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from styleinv_model.checkpoints.safetensors_io import load_checkpoint
from styleinv_model.train.cli import build_config, train


def run(stage: str, config: Path, manifest: Path | None, outdir: Path, steps: int, resume: Path | None = None,
        generator: Path | None = None, encoder: Path | None = None, images: Path | None = None):
    cfg = build_config(stage, str(config), (), outdir, None, None, steps, generator, encoder, images)
    return train(stage, cfg, manifest, resume, None, progress=False)


def test_stage1_resume_is_bitwise(tiny_faces: Path, tiny_config, tmp_path: Path, assert_same_checkpoint) -> None:
    config = tiny_config()
    whole = run("stage1", config, tiny_faces, tmp_path / "a", 4)
    half = run("stage1", config, tiny_faces, tmp_path / "b", 2)
    assert half.steps_done == 2
    resumed = run("stage1", config, tiny_faces, tmp_path / "b", 4, resume=half.run_dir)
    assert resumed.run_dir == half.run_dir and resumed.steps_done == 4
    assert_same_checkpoint(whole.last_checkpoint, resumed.last_checkpoint)
    ckpt = load_checkpoint(whole.last_checkpoint)
    # the ADA probability moved (so its state really is carried), and pl_mean was stored
    assert float(ckpt.state_dicts["augment"]["p"]) != pytest.approx(0.2)
    assert "pl_mean" in ckpt.extra_tensors and float(ckpt.extra_tensors["pl_mean"]) > 0
    # a different run (other seed) differs: the comparison above can fail
    other = build_config("stage1", str(config), ("run.seed=4",), tmp_path / "c", None, None, 4, None, None, None)
    different = train("stage1", other, tiny_faces, None, None, progress=False)
    g_a = load_checkpoint(whole.last_checkpoint).state_dicts["G"]
    g_c = load_checkpoint(different.last_checkpoint).state_dicts["G"]
    assert any(not torch.equal(g_a[k], g_c[k]) for k in g_a)


def test_stage2_stage3_finetune_resume_is_bitwise(tiny_faces: Path, tiny_config, tmp_path: Path,
                                                  assert_same_checkpoint) -> None:
    config = tiny_config()
    g = run("stage1", config, tiny_faces, tmp_path / "s1", 2).last_checkpoint
    whole2 = run("stage2", config, tiny_faces, tmp_path / "a2", 4, generator=g)
    half2 = run("stage2", config, tiny_faces, tmp_path / "b2", 2, generator=g)
    resumed2 = run("stage2", config, tiny_faces, tmp_path / "b2", 4, resume=half2.run_dir, generator=g)
    assert_same_checkpoint(whole2.last_checkpoint, resumed2.last_checkpoint)

    e = whole2.last_checkpoint
    whole3 = run("stage3", config, tiny_faces, tmp_path / "a3", 4, generator=g, encoder=e)
    half3 = run("stage3", config, tiny_faces, tmp_path / "b3", 2, generator=g, encoder=e)
    resumed3 = run("stage3", config, tiny_faces, tmp_path / "b3", 4, resume=half3.last_checkpoint, generator=g, encoder=e)
    assert_same_checkpoint(whole3.last_checkpoint, resumed3.last_checkpoint)

    images = tiny_faces.parent / "face_000"
    whole_f = run("finetune", config, None, tmp_path / "af", 4, generator=g, images=images)
    half_f = run("finetune", config, None, tmp_path / "bf", 2, generator=g, images=images)
    resumed_f = run("finetune", config, None, tmp_path / "bf", 4, resume=half_f.run_dir, generator=g, images=images)
    assert_same_checkpoint(whole_f.last_checkpoint, resumed_f.last_checkpoint)


def _cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from styleinv_model.train.cli import main

    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_resume_restores_the_runs_settings_after_a_kill(tiny_faces: Path, tiny_config, tmp_path: Path,
                                                        assert_same_checkpoint, kill_during_checkpoint) -> None:
    """Started with --set values the config file does not hold, killed after checkpoint 2 and resumed
    with `--resume RUN` alone (the README's line): the checkpoint interval, the thread count and the
    manifest come from the run folder, and step 6 equals the uninterrupted run bitwise."""
    import json
    import os

    config = tiny_config(run={"checkpoint_every": 5, "cpu_threads": None})
    flags = ["--set", "run.checkpoint_every=2", "--set", "run.cpu_threads=1", "--max-steps", "6", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # threads must come from the run's config
    run_dir = kill_during_checkpoint(["stage1", "--config", str(config), "--manifest", str(tiny_faces), *flags], 4,
                                     tmp_path, env=env)
    folder = run_dir / "checkpoints"
    assert json.loads((folder / "latest.json").read_text())["step"] == 2
    (folder / "ckpt-00000004.safetensors").unlink()  # as if killed before the step-4 file was written
    (folder / "ckpt-00000004.json").unlink(missing_ok=True)

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # not the run's setting: the resume must set 1 itself
        code, output = _cli("stage1", "--resume", str(run_dir))
        resumed_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    assert code == 0, output
    assert "(2 -> 6)" in output and "resume:" not in output  # nothing changed, nothing to report
    assert resumed_threads == 1
    assert sorted(p.name for p in folder.glob("ckpt-*.safetensors")) == [
        "ckpt-00000002.safetensors", "ckpt-00000004.safetensors", "ckpt-00000006.safetensors"]

    reference = tmp_path / "reference"
    code, output = _cli("stage1", "--config", str(config), "--manifest", str(tiny_faces), "--outdir", str(reference),
                        *flags)
    assert code == 0, output
    uninterrupted = next(p for p in reference.iterdir() if p.is_dir()) / "checkpoints"
    assert_same_checkpoint(uninterrupted / "ckpt-00000006.safetensors", folder / "ckpt-00000006.safetensors")
    assert_same_checkpoint(uninterrupted / "ckpt-00000004.safetensors", folder / "ckpt-00000004.safetensors")


def test_resume_applies_safe_overrides_and_refuses_the_others(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
    import yaml

    config = tiny_config()
    code, output = _cli("stage1", "--config", str(config), "--manifest", str(tiny_faces), "--outdir", str(tmp_path),
                        "--max-steps", "2", "--quiet")
    assert code == 0, output
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    saved = (run_dir / "config.yaml").read_text()
    assert yaml.safe_load(saved)["run"]["manifest"] == str(tiny_faces.resolve())

    # a setting that changes what the run computes: refused before anything runs, naming the key
    code, output = _cli("stage1", "--resume", str(run_dir), "--max-steps", "4", "--set", "stage1.g_lr=1e30")
    assert code == 2
    assert "--set stage1.g_lr=1e30: stage1.g_lr: a resume cannot change this setting of the run (0.0025 -> 1e+30)" in output
    assert len(output.strip().splitlines()) == 1
    code, output = _cli("stage1", "--resume", str(run_dir), "--seed", "9")
    assert code == 2 and "--set run.seed=9: run.seed: a resume cannot change" in output
    code, output = _cli("stage1", "--resume", str(run_dir), "--config", "demo")
    assert code == 2 and "--config is not used with --resume" in output
    assert (run_dir / "config.yaml").read_text() == saved
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.safetensors")) == ["ckpt-00000002.safetensors"]

    # safe ones (how long, how often) are applied, printed and kept in the run's config
    code, output = _cli("stage1", "--resume", str(run_dir), "--max-steps", "4", "--set", "run.log_every=3")
    assert code == 0, output
    assert "resume: stage1.max_steps 2 -> 4" in output and "resume: run.log_every 1 -> 3" in output
    assert "(2 -> 4)" in output
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert stored["stage1"]["max_steps"] == 4 and stored["run"]["log_every"] == 3
    # a programmatic caller handing train() another run's settings is refused the same way
    other = build_config("stage1", str(config), ("stage1.r1_gamma=5",), tmp_path, None, None, 6, None, None, None)
    with pytest.raises(ValueError, match="stage1.r1_gamma: a resume cannot change"):
        train("stage1", other, tiny_faces, run_dir, None, progress=False)
