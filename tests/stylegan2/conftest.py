"""Fixtures of the StyleGAN2 tests: the official golden outputs and tiny network configs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "sg2ada"



@dataclass
class OfficialCase:
    name: str
    G_kwargs: dict[str, Any]
    D_kwargs: dict[str, Any]
    G_state: dict[str, torch.Tensor]
    D_state: dict[str, torch.Tensor]
    io: dict[str, torch.Tensor]


def load_official_case(name: str) -> OfficialCase:
    meta_path = FIXTURE_DIR / "fixtures.json"
    if not meta_path.is_file():
        pytest.fail(f"missing golden fixtures {meta_path}: copy them from ../shared/fixtures/sg2ada/")
    meta = json.loads(meta_path.read_text())[name]
    weights = load_file(str(FIXTURE_DIR / f"{name}_weights.safetensors"))
    io = load_file(str(FIXTURE_DIR / f"{name}_io.safetensors"))
    return OfficialCase(name, meta["G_kwargs"], meta["D_kwargs"],
                        {k[2:]: v for k, v in weights.items() if k.startswith("G.")},
                        {k[2:]: v for k, v in weights.items() if k.startswith("D.")}, io)


@pytest.fixture(scope="session", params=["g32", "g64"])
def official_case(request) -> OfficialCase:
    return load_official_case(request.param)


@pytest.fixture(scope="session")
def official_g32() -> OfficialCase:
    return load_official_case("g32")
