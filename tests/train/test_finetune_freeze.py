"""The style-transfer finetune changes exactly the synthesis blocks above the freeze resolution:
the mapping network (and its w_avg) and every block at <= freeze_resolution stay bit-identical."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageOps

from styleinv_model.checkpoints.safetensors_io import load_checkpoint
from styleinv_model.train.cli import build_config, train
from styleinv_model.train.finetune import frozen_parameter_names


def test_finetune_freezes_mapping_and_low_resolution_blocks(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
    config = tiny_config(finetune={"freeze_resolution": 8, "g_lr": 0.01})
    source = train("stage1", build_config("stage1", str(config), (), tmp_path / "s1", None, None, 2, None, None, None),
                   tiny_faces, None, None, progress=False).last_checkpoint
    stylised = tmp_path / "stylised"
    stylised.mkdir()
    for i, frame in enumerate(sorted((tiny_faces.parent / "face_000").glob("*.png"))[:6]):
        ImageOps.posterize(Image.open(frame).convert("RGB"), 2).save(stylised / f"{i}.png")
    result = train("finetune", build_config("finetune", str(config), (), tmp_path / "ft", None, None, 3, source, None,
                                            stylised), None, None, None, progress=False)
    before = load_checkpoint(source).state_dicts["G_ema"]
    after = load_checkpoint(result.last_checkpoint).state_dicts

    from styleinv_model.train.pretrained import load_frozen_generator

    generator = load_frozen_generator(source)
    frozen = set(frozen_parameter_names(generator, 8))
    params = {name for name, _ in generator.named_parameters()}
    assert any(n.startswith("mapping.") for n in frozen) and any(".b8." in f".{n}" for n in frozen)
    assert not any(n.startswith("synthesis.b16.") for n in frozen)
    for net in ("G", "G_ema"):
        for name in params:
            same = torch.equal(before[name], after[net][name])
            if name in frozen:
                assert same, f"{net}.{name} is frozen but changed"
            else:
                assert not same, f"{net}.{name} should have been trained"
        assert torch.equal(before["mapping.w_avg"], after[net]["mapping.w_avg"])  # w_avg not updated
