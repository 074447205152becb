"""Training under bad conditions: SIGKILL during a checkpoint write, non-finite losses, corrupt and
mismatched checkpoints, bad configs and inputs: each a one-line error naming the file or step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from styleinv_model.checkpoints.safetensors_io import load_checkpoint
from styleinv_model.train.cli import build_config, main, train


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_sigkill_during_checkpoint_write_resumes_from_previous(tiny_faces: Path, tiny_config, tmp_path: Path,
                                                              kill_during_checkpoint) -> None:
    config = tiny_config()
    run_dir = kill_during_checkpoint(["stage1", "--config", str(config), "--manifest", str(tiny_faces),
                                      "--max-steps", "6"], 4, tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    folder = run_dir / "checkpoints"
    # killed between writing ckpt 4 and moving the pointer: the pointer still names ckpt 2
    assert json.loads((folder / "latest.json").read_text())["step"] == 2
    assert (folder / "ckpt-00000004.safetensors").is_file()  # complete, but not yet the resume point

    code, output = cli("stage1", "--resume", str(run_dir))  # the run's config: manifest, 6 steps, 1 thread
    assert code == 0, output
    assert "(2 -> 6)" in output  # resumed from the previous checkpoint, redid steps 3..6

    uninterrupted = train("stage1", build_config("stage1", str(config), (), tmp_path / "ref", None, None, 6, None, None,
                                                 None), tiny_faces, None, None, progress=False)
    a = load_checkpoint(uninterrupted.last_checkpoint).state_dicts
    b = load_checkpoint(folder / "ckpt-00000006.safetensors").state_dicts
    for name in ("G", "D", "G_ema"):
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key}"


def test_non_finite_loss_stops_with_step_and_checkpoint(tiny_faces: Path, tiny_config, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from styleinv_model.train.stage1 import Stage1

    original = Stage1.train_step

    def exploding(self, step: int):
        losses = original(self, step)
        if step == 2:
            losses["loss_G"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(Stage1, "train_step", exploding)
    code, output = cli("stage1", "--config", str(tiny_config()), "--manifest", str(tiny_faces), "--outdir",
                       str(tmp_path), "--quiet")
    assert code == 1
    assert "non-finite loss ['loss_G'] at step 2" in output
    assert "ckpt-00000002.safetensors" in output  # the last good checkpoint is named


def test_a_run_that_fails_on_its_first_step_leaves_no_run_folder(tiny_faces: Path, tiny_config, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """As a generator whose w_dim does not fit failed on the first batch: no empty run folder is left."""
    from styleinv_model.train.stage1 import Stage1

    original = Stage1.train_step
    fail_at = {"step": 0}

    def failing(self, step: int):
        if step == fail_at["step"]:
            raise RuntimeError("The size of tensor a (64) must match the size of tensor b (512)")
        return original(self, step)

    monkeypatch.setattr(Stage1, "train_step", failing)
    config = build_config("stage1", str(tiny_config()), (), tmp_path / "runs", None, None, 4, None, None, None)
    with pytest.raises(RuntimeError, match="size of tensor a"):
        train("stage1", config, tiny_faces, None, None, progress=False)
    assert [p for p in (tmp_path / "runs").iterdir() if p.is_dir()] == []  # (the numbering lock file stays)
    fail_at["step"] = 3  # after checkpoints were written (every 2 steps): the run folder stays, for --resume
    with pytest.raises(RuntimeError, match="size of tensor a"):
        train("stage1", config, tiny_faces, None, None, progress=False)
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert (run / "checkpoints" / "ckpt-00000002.safetensors").is_file()


def test_corrupt_and_mismatched_checkpoints(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
    config = tiny_config()
    result = train("stage1", build_config("stage1", str(config), (), tmp_path, None, None, 2, None, None, None),
                   tiny_faces, None, None, progress=False)
    ckpt = result.last_checkpoint
    # another stage: refused from the run's config before anything is built ...
    code, output = cli("stage2", "--generator", str(ckpt), "--resume", str(ckpt))
    assert code == 2 and "was trained by stage1, not stage2" in output
    # ... and by the checkpoint itself when a caller hands train() another stage's config
    from styleinv_model.train.state import load_training_checkpoint

    with pytest.raises(ValueError, match="was written by stage1"):
        load_training_checkpoint(ckpt, {}, {}, "stage2")
    # other networks: an override is refused with the key named ...
    code, output = cli("stage1", "--resume", str(ckpt), "--set", "stage1.generator.channel_max=8")
    assert code == 2 and "--set stage1.generator.channel_max=8: stage1.generator.channel_max: a resume cannot" in output
    # ... and a hand-edited config.yaml that no longer fits the checkpoint's networks is caught on loading
    run_config = result.run_dir / "config.yaml"
    original = run_config.read_text()
    run_config.write_text(original.replace("channel_max: 16", "channel_max: 8", 1))
    code, output = cli("stage1", "--resume", str(ckpt))
    assert code == 1 and "another configuration" in output
    run_config.write_text(original)
    # truncated file
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    code, output = cli("stage1", "--resume", str(ckpt))
    assert code == 1 and str(ckpt) in output and "not a readable safetensors file" in output
    assert len(output.strip().splitlines()) == 1


def test_bad_config_and_inputs(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
    config = tiny_config()
    # a bad value names where it came from: the --set override, or the file and key
    code, output = cli("stage1", "--config", str(config), "--set", "stage1.batch_size=0")
    assert code == 2 and "--set stage1.batch_size=0: stage1.batch_size must be > 0" in output
    assert str(config) not in output
    bad = tmp_path / "bad_batch.yaml"
    bad.write_text(config.read_text().replace("batch_size: 4", "batch_size: 0", 1))  # stage1's comes first
    code, output = cli("stage1", "--config", str(bad))
    assert code == 2 and f"{bad}: stage1.batch_size must be > 0" in output
    code, output = cli("stage1", "--config", str(config), "--set", "stage1.g_lr=fast")
    assert code == 2 and "--set stage1.g_lr=fast: stage1.g_lr: expected a number, got 'fast'" in output
    code, output = cli("stage1", "--config", str(config), "--set", "stage1.bogus=1")
    assert code == 2 and "unknown option(s) ['bogus']" in output
    code, output = cli("stage3", "--config", str(config), "--set", "stage3.noise_mode=random")
    assert code == 2 and "noise_mode" in output
    code, output = cli("stage1", "--config", "no-such-dataset")
    assert code == 2 and "not found" in output
    # a manifest at another resolution
    code, output = cli("stage1", "--config", str(config), "--manifest", str(tiny_faces), "--outdir", str(tmp_path),
                       "--set", "stage1.resolution=32")
    assert code == 1 and "styleinv-data crop --size 32" in output
    assert not (tmp_path / "00000-stage1-tiny").exists()  # nothing created for a run that never started
    # missing files
    code, output = cli("stage2", "--config", str(config), "--manifest", str(tiny_faces), "--generator",
                       str(tmp_path / "missing.safetensors"))
    assert code == 1 and "missing.safetensors does not exist" in output
    code, output = cli("stage1", "--config", str(config))
    assert code == 1 and "needs --manifest" in output
    code, output = cli("finetune", "--config", str(config), "--generator", str(tmp_path / "x.pkl"),
                       "--images", str(tmp_path))
    assert code == 1 and "x.pkl does not exist" in output
    # batch not divisible by the process count is checked in local_batch_size
    from styleinv_model.train.data import local_batch_size
    from styleinv_model.train.distributed import DistInfo

    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        local_batch_size(4, DistInfo(rank=0, world_size=3))


def test_malicious_generator_pickle_and_empty_manifest_are_one_line_errors(tiny_faces: Path, tiny_config,
                                                                         tmp_path: Path) -> None:
    import pickle

    class Exploit:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": Exploit()}))
    code, output = cli("stage2", "--config", str(tiny_config()), "--manifest", str(tiny_faces), "--generator", str(evil),
                       "--outdir", str(tmp_path / "runs"))
    assert code == 1 and f"{evil}: refusing to load global builtins.print" in output
    assert len(output.strip().splitlines()) == 1 and "this must never run" not in output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

    header = json.loads(tiny_faces.read_text().splitlines()[0])
    header.update({"num_videos": 0, "num_frames": 0, "splits": {}})
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps(header) + "\n")
    code, output = cli("stage1", "--config", str(tiny_config()), "--manifest", str(empty), "--outdir",
                       str(tmp_path / "runs"))
    assert code == 1 and f"{empty}: the manifest holds no videos" in output
    assert len(output.strip().splitlines()) == 1
