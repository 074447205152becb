"""The bundled per-dataset training configs hold the paper's values and validate; overrides and
errors behave."""

from __future__ import annotations

import pytest

from styleinv_model.train.config import (DATASET_CONFIGS, STAGES, ConfigError, config_from_resolved,
                                         load_stage_config)


@pytest.mark.parametrize("dataset", DATASET_CONFIGS)
def test_every_bundled_config_validates(dataset: str) -> None:
    for stage in STAGES:
        config = load_stage_config(stage, dataset)
        assert config.stage == stage and config.dataset == dataset
        assert config_from_resolved(config.to_dict()).settings == config.settings  # round trip


@pytest.mark.parametrize("dataset", ["faceforensics", "deeperforensics", "celebvhq", "taichi", "skytimelapse"])
def test_paper_values(dataset: str) -> None:
    s3 = load_stage_config("stage3", dataset).settings
    assert (s3.g_lr, s3.d_lr, s3.betas) == (0.0001, 0.002, (0.0, 0.99))
    assert (s3.lambda_l2, s3.lambda_reg, s3.r1_gamma, s3.r1_interval) == (10.0, 0.05, 1.0, 16)
    assert s3.nframes == 128
    s2 = load_stage_config("stage2", dataset).settings
    assert (s2.l2_weight, s2.lpips_weight, s2.lr, s2.batch_size, s2.total_kimg) == (1.0, 0.8, 0.0001, 64, 4000.0)
    s1 = load_stage_config("stage1", dataset).settings
    ft = load_stage_config("finetune", dataset).settings
    assert ft.freeze_resolution == 32
    sky_or_taichi = dataset in ("taichi", "skytimelapse")
    assert s3.preset == ("sky_taichi" if sky_or_taichi else "faces")
    assert s3.max_dist == (128 if sky_or_taichi else 32)
    assert s2.id_weight == (0.0 if sky_or_taichi else 0.1)
    assert s1.use_noise == (dataset != "skytimelapse")
    assert s3.noise_mode == ("none" if dataset == "skytimelapse" else "video")
    if dataset == "faceforensics":
        assert s3.augment.pipeline == "none"  # the authors' FaceForensics config turns augmentation off
    else:
        assert (s3.augment.pipeline, s3.augment.target) == ("bgc", 0.6)


def test_overrides_and_errors(tmp_path) -> None:
    config = load_stage_config("stage3", "taichi", ["stage3.batch_size=8", "run.seed=5", "stage3.betas=[0.1, 0.9]"])
    assert config.settings.batch_size == 8 and config.run.seed == 5 and config.settings.betas == (0.1, 0.9)
    with pytest.raises(ConfigError, match=r"stage3.betas: expected a list of 2 values"):
        load_stage_config("stage3", "taichi", ["stage3.betas=0.5"])
    with pytest.raises(ConfigError, match=r"stage1.use_noise: expected true or false, got 'yes please'"):
        load_stage_config("stage1", "taichi", ["stage1.use_noise=yes please"])
    with pytest.raises(ConfigError, match=r"augment.pipeline"):
        load_stage_config("stage1", "taichi", ["stage1.augment.pipeline=xyz"])
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['stage4'\]"):
        load_stage_config("stage1", "taichi", ["stage4.x=1"])
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        load_stage_config("stage1", "taichi", ["stage1.batch_size"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: run: expected|bad.yaml: run"):
        load_stage_config("stage1", str(bad))
    with pytest.raises(ConfigError, match="unknown stage"):
        load_stage_config("stage9", "taichi")
