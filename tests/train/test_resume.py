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


def assert_same_checkpoint(a: Path, b: Path) -> None:
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert set(ca.state_dicts) == set(cb.state_dicts)
    for name in ca.state_dicts:
        for key, value in ca.state_dicts[name].items():
            assert torch.equal(value, cb.state_dicts[name][key]), f"{name}.{key} differs after resume"
    opt_keys = [k for k in ca.extra_tensors if k.startswith("opt.")]
    assert opt_keys, "the checkpoint holds no optimiser state"
    for key in opt_keys:
        assert torch.equal(ca.extra_tensors[key], cb.extra_tensors[key]), f"optimiser tensor {key} differs"
    assert ca.config["progress"] == cb.config["progress"]


def test_stage1_resume_is_bitwise(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
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


def test_stage2_stage3_finetune_resume_is_bitwise(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
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
