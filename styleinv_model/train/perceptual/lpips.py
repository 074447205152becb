"""LPIPS perceptual distance, AlexNet trunk, version 0.1 (Zhang et al. 2018, the `lpips` package).

Nothing downloads: the two weight files are read from local paths.

* the trunk: torchvision's AlexNet ImageNet state dict ``alexnet-owt-7be5be79.pth`` (only its
  ``features.*`` convolutions are used; ``classifier.*`` is ignored);
* the calibration: the lpips package's ``weights/v0.1/alex.pth`` (five 1x1 convolutions without
  bias, keys ``lin0.model.1.weight`` ... ``lin4.model.1.weight``).

The distance of two images x, y in [-1, 1] is: shift/scale both (the lpips constants), run the
trunk and tap its five ReLU outputs, unit-normalise each feature vector over channels, square the
difference, weight the channels with the 1x1 convolution, average over space and sum over layers.

This module also holds the small weight-file helpers (`read_state_dict`, `match_state_dict`) that
`arcface.py` shares.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch
import torch.nn as nn

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
LINEAR_FILE = "alex.pth"
ALEXNET_ENV = "STYLEINV_LPIPS_ALEXNET"
LINEAR_ENV = "STYLEINV_LPIPS_LINEAR"
ALEXNET_HINT = ("torchvision's AlexNet ImageNet weights (AlexNet_Weights.IMAGENET1K_V1, "
                "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth)")
LINEAR_HINT = ("the LPIPS v0.1 AlexNet linear layers (file lpips/weights/v0.1/alex.pth inside the `lpips` "
               "PyPI package, or weights/v0.1/alex.pth in github.com/richzhang/PerceptualSimilarity)")

# lpips' ScalingLayer: input in [-1, 1] -> roughly ImageNet-normalised.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
ALEX_CHANNELS = (64, 192, 384, 256, 256)
# Indices into AlexNet's `features` after which lpips taps the output (ReLU 1..5, exclusive ends).
ALEX_TAP_ENDS = (2, 5, 8, 10, 12)
NORMALIZE_EPS = 1e-10  # lpips' normalize_tensor: x / (||x||_2 + eps)


def weights_dir() -> Path:
    """``$STYLEINV_CACHE/weights`` if STYLEINV_CACHE is set, else ``~/.cache/styleinv/weights``."""
    root = os.environ.get("STYLEINV_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "styleinv") / "weights"


def path_from_env(env_var: str, file_name: str) -> Path:
    """The path in ``$env_var`` if set and non-empty, else ``weights_dir() / file_name``."""
    value = os.environ.get(env_var, "").strip()
    return Path(value).expanduser() if value else weights_dir() / file_name


@dataclass(frozen=True)
class LPIPSPaths:
    """The two files LPIPS needs."""

    alexnet: Path  # torchvision alexnet-owt-7be5be79.pth
    linear: Path  # lpips weights/v0.1/alex.pth


def default_lpips_paths() -> LPIPSPaths:
    """``$STYLEINV_LPIPS_ALEXNET`` / ``$STYLEINV_LPIPS_LINEAR``, else the files of those names in
    `weights_dir()`."""
    return LPIPSPaths(alexnet=path_from_env(ALEXNET_ENV, ALEXNET_FILE),
                      linear=path_from_env(LINEAR_ENV, LINEAR_FILE))


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:200] if lines else ""


def read_state_dict(path: str | os.PathLike[str], what: str, hint: str, env_var: str) -> dict[str, torch.Tensor]:
    """Read a tensor state dict with ``torch.load(weights_only=True)`` on the CPU.

    Missing path -> FileNotFoundError; unreadable file or a payload that is not a dict of tensors
    -> ValueError. Both messages are one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found (no such file); get {hint} and point "
                                f"{env_var} to it")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated / foreign files
        raise ValueError(f"{path}: cannot read {what} ({type(error).__name__}: {_first_line(str(error))}); "
                         f"the file is corrupt or not a PyTorch state dict, get {hint} again") from None
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: {what} holds a {type(state).__name__}, expected a state dict of tensors")
    bad = next((key for key, value in state.items() if not isinstance(value, torch.Tensor)), None)
    if bad is not None:
        raise ValueError(f"{path}: {what} entry {bad!r} is a {type(state[bad]).__name__}, not a tensor")
    return dict(state)


def match_state_dict(path: Path, what: str, state: Mapping[str, torch.Tensor],
                     expected: Mapping[str, torch.Tensor], ignore_prefixes: Iterable[str] = (),
                     optional: Callable[[str], bool] = lambda key: False) -> dict[str, torch.Tensor]:
    """Check `state` against the module's own `expected` state dict: every expected key present
    (unless `optional(key)`), same shape, and no key left over except those under
    `ignore_prefixes`. Returns the subset to load; raises ValueError naming the first mismatch."""
    prefixes = tuple(ignore_prefixes)
    for key, reference in expected.items():
        if key not in state:
            if optional(key):
                continue
            raise ValueError(f"{path}: {what} lacks key {key!r} (first of "
                             f"{sum(k not in state for k in expected)} missing); wrong file?")
        if tuple(state[key].shape) != tuple(reference.shape):
            raise ValueError(f"{path}: {what} key {key!r} has shape {tuple(state[key].shape)}, "
                             f"expected {tuple(reference.shape)}")
        if state[key].dtype.is_floating_point != reference.dtype.is_floating_point:
            raise ValueError(f"{path}: {what} key {key!r} has dtype {state[key].dtype}, expected {reference.dtype}")
    extra = [key for key in state if key not in expected and not key.startswith(prefixes)]
    if extra:
        raise ValueError(f"{path}: {what} has unexpected key {extra[0]!r} ({len(extra)} unexpected); wrong file?")
    return {key: value for key, value in state.items() if key in expected}


def build_alexnet_features() -> nn.Sequential:
    """torchvision's AlexNet `features` (same indices, so keys ``features.N.*`` line up), with
    out-of-place ReLUs so the tapped activations stay intact."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),  # 0, 1
        nn.MaxPool2d(kernel_size=3, stride=2),  # 2
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),  # 3, 4
        nn.MaxPool2d(kernel_size=3, stride=2),  # 5
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),  # 6, 7
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),  # 8, 9
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),  # 10, 11
        nn.MaxPool2d(kernel_size=3, stride=2),  # 12 (not used by LPIPS)
    )


class _LinearHead(nn.Module):
    """One lpips calibration layer: a 1x1 conv, no bias, to one channel. Index 0 stands where lpips
    has its (training-only) dropout, so the weight's key is ``model.1.weight`` as in the file."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _unit_normalize(x: torch.Tensor) -> torch.Tensor:
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + NORMALIZE_EPS)


class LPIPS(nn.Module):
    """Frozen LPIPS (AlexNet, v0.1). ``forward(x, y)``: images [N, 3, H, W] in [-1, 1] (H, W >= 32)
    -> distances [N] float32, differentiable w.r.t. both inputs. The module stays in eval mode and
    its parameters never require grad (``train()`` is a no-op). Its own ``state_dict()`` keys are the
published ones: ``features.{0,3,6,8,10}.{weight,bias}`` and ``lin{0..4}.model.1.weight``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = build_alexnet_features()
        for index, channels in enumerate(ALEX_CHANNELS):  # keys lin0.model.1.weight ... as published
            self.add_module(f"lin{index}", _LinearHead(channels))
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "LPIPS":
        return self  # frozen metric network: always eval

    @property
    def lins(self) -> list[_LinearHead]:
        return [getattr(self, f"lin{index}") for index in range(len(ALEX_CHANNELS))]

    @staticmethod
    def _linear_key(index: int) -> str:
        return f"lin{index}.model.1.weight"

    def load_weights(self, alexnet_state: Mapping[str, torch.Tensor], linear_state: Mapping[str, torch.Tensor],
                     alexnet_path: Path = Path("<alexnet>"), linear_path: Path = Path("<linear>")) -> None:
        """Load the two published state dicts (strict on the used keys; ValueError on mismatch)."""
        trunk_expected = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        trunk = match_state_dict(alexnet_path, "AlexNet state dict", alexnet_state, trunk_expected,
                                 ignore_prefixes=("classifier.",))
        lin_expected = {self._linear_key(i): head.model[1].weight for i, head in enumerate(self.lins)}
        lins = match_state_dict(linear_path, "LPIPS linear-layer state dict", linear_state, lin_expected,
                                ignore_prefixes=("net.", "scaling_layer."))
        self.features.load_state_dict({k.removeprefix("features."): v.float() for k, v in trunk.items()}, strict=True)
        for i, head in enumerate(self.lins):
            head.model[1].weight.copy_(lins[self._linear_key(i)].float())

    @classmethod
    def from_files(cls, backbone_path: str | os.PathLike[str], linear_path: str | os.PathLike[str]) -> "LPIPS":
        """Build from torchvision's ``alexnet-owt-7be5be79.pth`` and lpips' ``weights/v0.1/alex.pth``."""
        backbone_path, linear_path = Path(backbone_path), Path(linear_path)
        alexnet_state = read_state_dict(backbone_path, "AlexNet ImageNet weights", ALEXNET_HINT, ALEXNET_ENV)
        linear_state = read_state_dict(linear_path, "LPIPS v0.1 linear weights", LINEAR_HINT, LINEAR_ENV)
        model = cls()
        with torch.no_grad():
            model.load_weights(alexnet_state, linear_state, backbone_path, linear_path)
        return model

    @classmethod
    def from_paths(cls, paths: LPIPSPaths | None = None) -> "LPIPS":
        """`from_files` on `paths` (default: `default_lpips_paths()`)."""
        paths = paths or default_lpips_paths()
        return cls.from_files(paths.alexnet, paths.linear)

    def layer_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five tapped ReLU activations of the scaled input x in [-1, 1]."""
        h = (x.float() - self.shift) / self.scale
        taps, start = [], 0
        for end in ALEX_TAP_ENDS:
            h = self.features[start:end](h)
            taps.append(h)
            start = end
        return taps

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"LPIPS needs two [N, 3, H, W] images of one shape, got {tuple(x.shape)} "
                             f"and {tuple(y.shape)}")
        distance = x.new_zeros(x.shape[0], dtype=torch.float32)
        for head, fx, fy in zip(self.lins, self.layer_features(x), self.layer_features(y)):
            diff = (_unit_normalize(fx) - _unit_normalize(fy)).square()
            distance = distance + head(diff).mean(dim=(1, 2, 3))
        return distance
