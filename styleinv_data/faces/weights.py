"""Where each backend's weights file comes from: flag > recipe > environment variable > default.

Nothing is ever downloaded. A missing file raises :class:`MissingWeightsError` with one line naming
the file, how to point at it, and where users get it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


class MissingWeightsError(FileNotFoundError):
    """A face backend's weights file is not on disk."""


@dataclass(frozen=True)
class WeightsSpec:
    backend: str
    env_var: str
    file_name: str
    where_to_get: str
    recipe_key: str
    flag: str


DLIB_68 = WeightsSpec(
    backend="dlib",
    env_var="STYLEINV_DLIB68_WEIGHTS",
    file_name="shape_predictor_68_face_landmarks.dat",
    where_to_get="pip install face-recognition-models (ships it), or Debian's libdlib-data",
    recipe_key="faces.dlib_weights",
    flag="--dlib-weights",
)
FAN_2D = WeightsSpec(
    backend="fan",
    env_var="STYLEINV_FAN_WEIGHTS",
    file_name="2DFAN4-11f355bf06.pth.tar",
    where_to_get="https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
    recipe_key="faces.fan_weights",
    flag="--fan-weights",
)
RETINAFACE_R50 = WeightsSpec(
    backend="retinaface",
    env_var="STYLEINV_RETINAFACE_WEIGHTS",
    file_name="retinaface_resnet50_2020-07-20-f168fae3c.zip",
    where_to_get="https://github.com/ternaus/retinaface/releases/download/0.01/retinaface_resnet50_2020-07-20-f168fae3c.zip",
    recipe_key="faces.retinaface_weights",
    flag="--retinaface-weights",
)

SPECS: dict[str, WeightsSpec] = {s.backend: s for s in (DLIB_68, FAN_2D, RETINAFACE_R50)}


def _default_candidates(spec: WeightsSpec) -> list[Path]:
    candidates: list[Path] = []
    if spec is DLIB_68:
        found = importlib.util.find_spec("face_recognition_models")  # never import it: needs pkg_resources
        if found is not None and found.submodule_search_locations:
            root = Path(list(found.submodule_search_locations)[0])
            candidates.append(root / "models" / spec.file_name)
        candidates.append(Path("/usr/share/dlib") / spec.file_name)
    # torch.hub's checkpoint folder, where the upstream packages would have put a download.
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    candidates.append(torch_home / "hub" / "checkpoints" / spec.file_name)
    return candidates


def resolve_weights(backend: str, flag_path: str | os.PathLike | None = None,
                    recipe_path: str | os.PathLike | None = None) -> Path:
    """Return the weights file of ``backend`` ("dlib", "fan" or "retinaface").

    Order: the command-line flag, the recipe value, the environment variable, then the default
    locations. An explicitly given path that does not exist is an error (no silent fallback).
    """
    if backend not in SPECS:
        raise ValueError(f"unknown face backend {backend!r}; choose one of {sorted(SPECS)}")
    spec = SPECS[backend]
    explicit: list[tuple[str, str | os.PathLike | None]] = [
        (spec.flag, flag_path), (spec.recipe_key, recipe_path), ("$" + spec.env_var, os.environ.get(spec.env_var)),
    ]
    for origin, value in explicit:
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise MissingWeightsError(
                    f"{backend} weights not found: {path} (given by {origin}); get {spec.file_name} from {spec.where_to_get}")
            return path
    for path in _default_candidates(spec):
        if path.is_file():
            return path
    raise MissingWeightsError(
        f"{backend} weights not found: {spec.file_name} (pass {spec.flag}, set recipe {spec.recipe_key} "
        f"or ${spec.env_var}); get it from {spec.where_to_get}")
