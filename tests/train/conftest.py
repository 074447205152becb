"""Fixtures of the training tests: a tiny moving-faces dataset and a tiny config (16x16 networks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

TINY_CONFIG: dict[str, Any] = {
    "dataset": "tiny",
    "run": {"seed": 3, "device": "cpu", "log_every": 1, "checkpoint_every": 2, "snapshot_every": 0,
            "metrics_every": 0, "keep_checkpoints": 5, "loader_threads": 1, "cpu_threads": 1, "tensorboard": False},
    "stage1": {
        "resolution": 16, "preset": "auto",
        "generator": {"channel_base": 256, "channel_max": 16, "mapping_layers": 2, "z_dim": 16, "w_dim": 16},
        "discriminator": {"channel_base": 256, "channel_max": 16},
        "batch_size": 4, "total_kimg": 1.0, "max_steps": 4, "r1_gamma": 0.1, "r1_interval": 2,
        "pl_weight": 2.0, "pl_interval": 2, "style_mixing": 0.5, "ema_kimg": 0.01, "ema_rampup": 0.05,
        "augment": {"pipeline": "bgc", "target": 0.6, "speed_kimg": 0.01, "interval": 1, "initial_p": 0.2},
    },
    "stage2": {
        "encoder": {"stage_channels": [8, 8, 16, 16], "stage_units": [1, 1, 1, 1], "se_reduction": 4},
        "input_resolution": 32, "batch_size": 4, "total_kimg": 1.0, "max_steps": 4, "lr": 0.001,
        "lpips_weight": 0.0, "id_weight": 0.0,
    },
    "stage3": {
        "preset": "faces",
        "encoder": {"stage_channels": [8, 8, 16, 16], "stage_units": [1, 1, 1, 1], "se_reduction": 4, "style_dim": 16,
                    "input_resolution": 32},
        "temporal": {"motion_dim": 16, "style_dim": 16, "num_frequencies": 8, "motion_z_distance": 4,
                     "min_period": 4.0, "max_period": 16.0},
        "discriminator": {"channel_base": 256, "channel_max": 16, "concat_resolution": 8, "time_table_dim": 8,
                          "mapping_layers": 2},
        "batch_size": 4, "total_kimg": 1.0, "max_steps": 4, "r1_gamma": 0.1, "r1_interval": 2,
        "nframes": 16, "max_dist": 8, "noise_mode": "video", "ema_kimg": 0.01,
        "augment": {"pipeline": "bgc", "target": 0.6, "speed_kimg": 0.01, "interval": 1, "initial_p": 0.2},
    },
    "finetune": {"freeze_resolution": 8, "batch_size": 4, "total_kimg": 1.0, "max_steps": 4, "r1_gamma": 0.1,
                 "r1_interval": 2, "ema_kimg": 0.01,
                 "augment": {"pipeline": "bgc", "target": 0.6, "speed_kimg": 0.01, "interval": 1, "initial_p": 0.2}},
}


def write_tiny_config(path: Path, **sections: dict[str, Any]) -> Path:
    """TINY_CONFIG with `sections` merged in (one level deep), written to `path`."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY_CONFIG.items()}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tiny_faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of 6 moving real faces, 20 frames of 16x16 each."""
    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces

    root = tmp_path_factory.mktemp("tiny_faces")
    return write_moving_faces(root / "data", MovingFacesConfig(num_videos=6, frames=20, size=16, seed=1))


@pytest.fixture
def tiny_config(tmp_path: Path):
    """Factory: tiny_config(**sections) -> path of a config file with those overrides."""
    def make(**sections: dict[str, Any]) -> Path:
        return write_tiny_config(tmp_path / "tiny.yaml", **sections)
    return make


@pytest.fixture(scope="session")
def tiny_stage1_checkpoint(tiny_faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stage-1 checkpoint of the tiny networks (2 steps): the frozen G of stage-3 tests."""
    from styleinv_model.train.cli import build_config, train

    root = tmp_path_factory.mktemp("tiny_stage1")
    config = write_tiny_config(root / "tiny.yaml")
    cfg = build_config("stage1", str(config), (), root / "runs", None, None, 2, None, None, None)
    return train("stage1", cfg, tiny_faces, None, None, progress=False).last_checkpoint


def _assert_same_checkpoint(a: Path, b: Path) -> None:
    """Two training checkpoints hold bitwise-equal networks and optimiser tensors, and the same progress."""
    import torch

    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

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


@pytest.fixture(scope="session")
def assert_same_checkpoint():
    """assert_same_checkpoint(a, b): see `_assert_same_checkpoint`."""
    return _assert_same_checkpoint


def _kill_during_checkpoint(args: list[str], step: int, tmp_path: Path, env: dict[str, str] | None = None) -> Path:
    """Run ``styleinv-train ARGS`` (with --outdir tmp_path/runs) in a subprocess, SIGKILL it while the
    checkpoint of `step` is written (file complete, latest.json not yet moved) and return the run folder."""
    import os
    import signal
    import subprocess
    import sys
    import time

    marker = tmp_path / f"paused-{step}"
    env = {**(os.environ if env is None else env), "STYLEINV_TEST_PAUSE_AT_STEP": str(step),
           "STYLEINV_TEST_PAUSE_SECONDS": "120", "STYLEINV_TEST_PAUSE_FILE": str(marker)}
    command = [sys.executable, "-m", "styleinv_model.train.cli", *args, "--outdir", str(tmp_path / "runs"), "--quiet"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not marker.exists():
        assert process.poll() is None, process.stdout.read().decode()
        assert time.time() < deadline, f"the run never reached the step-{step} checkpoint"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def kill_during_checkpoint():
    """kill_during_checkpoint(args, step, tmp_path, env=None) -> run folder: see `_kill_during_checkpoint`."""
    return _kill_during_checkpoint
