"""The one-call Python API for generating videos from a trained StyleInV checkpoint::

    from styleinv_model import load_video_generator

    G = load_video_generator("runs/00002-stage3-faceforensics")   # a run folder or a .safetensors file
    video = G.generate(seed=0, frames=128, step=1.0)              # uint8 [128, H, W, 3]
    slow = G.generate(seed=0, frames=256, step=0.5)               # the same motion at twice the frame rate

Frames are converted with StyleGAN's rule (``x * 127.5 + 128``, clipped to 0..255, i.e. the
network's output clamped to [-1, 1]); a seed gives the same video as ``styleinv-generate --seeds``
with the same options, in one call or in pieces (``start``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from styleinv_model.generate import Timeline, iter_uint8_frames
from styleinv_model.styleinv.generator import StyleInVGenerator


@dataclass
class VideoGenerator:
    """A loaded StyleInV network (eval mode) on a device."""

    model: StyleInVGenerator
    device: torch.device
    checkpoint: Path

    @property
    def resolution(self) -> int:
        return int(self.model.resolution)

    def generate(self, seed: int, frames: int = 128, step: float = 1.0, start: float = 0.0,
                 truncation_psi: float = 1.0, noise_mode: str = "const", chunk_frames: int = 32) -> np.ndarray:
        """The video of `seed`: ``frames`` frames at timestamps ``start + step * i``, uint8
        ``[frames, H, W, 3]``. ``step`` < 1 gives in-between frames (a higher frame rate)."""
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        chunks = [pixels[0] for _, pixels in iter_uint8_frames(
            self.model, [int(seed)], Timeline(frames, start=start, step=step), truncation_psi=truncation_psi,
            noise_mode=noise_mode, chunk_frames=chunk_frames, device=self.device)]
        return np.concatenate(chunks, axis=0)


def load_video_generator(path: str | Path, device: str = "auto") -> VideoGenerator:
    """A StyleInV checkpoint (``styleinv.safetensors`` or a stage-3 training checkpoint) or a stage-3
    run folder (its latest checkpoint), ready to :meth:`VideoGenerator.generate`."""
    from styleinv_model.styleinv.checkpoint import load_styleinv
    from styleinv_model.train.state import checkpoint_file

    path = checkpoint_file(path)
    run_device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                              ("cpu" if device == "auto" else device))
    return VideoGenerator(load_styleinv(path, run_device), run_device, path)
