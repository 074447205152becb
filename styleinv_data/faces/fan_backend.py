"""FAN (the `face-alignment` package's 2D-FAN-4): 68 points from a given box, batched.

Only the network class is taken from `face-alignment`; its ``FaceAlignment`` constructor downloads
weights (and a detector), so it is never called. The crop and heat-map decoding are ours: each box
becomes a ``256 x 256`` crop by one affine warp (sub-pixel, no integer rounding), all crops of a
call go through the network as one batch, and the peak of each 64x64 heat map is refined by a
quarter pixel towards its larger neighbour (as the package does).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from styleinv_data.faces.base import check_image_rgb
from styleinv_data.faces.weights import resolve_weights

CROP_RESOLUTION = 256
HEATMAP_RESOLUTION = 64
# How FAN turns a detector box into its crop: the square side is 200 * (w + h) / 195, centred on
# the box centre moved up by 12% of the box height.
REFERENCE_SCALE = 195.0
SCALE_FACTOR = 200.0
CENTER_Y_OFFSET = 0.12


def load_state_dict(path: Path):
    """A state dict from ``.safetensors`` or a torch file (``weights_only``; a zip with one torch file)."""
    import torch  # noqa: PLC0415

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file  # noqa: PLC0415

            return load_file(str(path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any reader error means the same to the user
        raise ValueError(f"{path}: unreadable weights file ({type(e).__name__}: {e}); re-download it") from e
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items()}


class FanLandmarker:
    """68 iBUG points from boxes with 2D-FAN-4 (``compile=False``: plain eager PyTorch)."""

    name = "fan"
    num_points = 68
    accepts_gray = False

    def __init__(self, weights_path: str | os.PathLike | None = None, recipe_path: str | os.PathLike | None = None,
                 device: str = "cpu", num_modules: int = 4, flip_input: bool = False) -> None:
        import torch  # noqa: PLC0415

        try:
            from face_alignment.models import FAN  # noqa: PLC0415
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError("the fan backend needs face-alignment: pip install face-alignment") from e
        self.weights_path = resolve_weights("fan", weights_path, recipe_path)
        self.device = torch.device(device)
        self.flip_input = bool(flip_input)
        net = FAN(num_modules)
        try:
            net.load_state_dict(load_state_dict(self.weights_path))
        except RuntimeError as e:
            raise ValueError(f"{self.weights_path}: not 2D-FAN-{num_modules} weights ({str(e).splitlines()[0]})") from e
        self.net = net.to(self.device).eval()

    @staticmethod
    def crop_frames(boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per box: the crop centre (pixel-centre coords) and the crop side in source pixels."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        centre = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, (boxes[:, 1] + boxes[:, 3]) / 2.0 - CENTER_Y_OFFSET * h], 1)
        side = SCALE_FACTOR * (w + h) / REFERENCE_SCALE
        return centre - 0.5, side  # box edges are corner coordinates; centres are pixel-centre coords

    def _crops(self, image: np.ndarray, centres: np.ndarray, sides: np.ndarray) -> np.ndarray:
        import cv2  # noqa: PLC0415

        crops = np.empty((len(centres), CROP_RESOLUTION, CROP_RESOLUTION, 3), dtype=np.uint8)
        for i, (c, side) in enumerate(zip(centres, sides)):
            s = CROP_RESOLUTION / side
            # crop pixel u <- source c + (u + 0.5) * side / 256 - side / 2
            m = np.array([[s, 0.0, -s * (c[0] - side / 2.0) - 0.5], [0.0, s, -s * (c[1] - side / 2.0) - 0.5]])
            crops[i] = cv2.warpAffine(image, m, (CROP_RESOLUTION, CROP_RESOLUTION), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return crops

    @staticmethod
    def decode_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
        """``(B, P, 64, 64)`` heat maps -> ``(B, P, 2)`` peak positions in heat-map pixel-centre coords."""
        b, p, hh, ww = heatmaps.shape
        flat = heatmaps.reshape(b, p, hh * ww)
        idx = flat.argmax(-1)
        ys, xs = np.divmod(idx, ww)
        pts = np.stack([xs, ys], -1).astype(np.float64)
        inner = (xs > 0) & (xs < ww - 1) & (ys > 0) & (ys < hh - 1)
        bi, pi = np.nonzero(inner)
        x, y = xs[bi, pi], ys[bi, pi]
        dx = heatmaps[bi, pi, y, x + 1] - heatmaps[bi, pi, y, x - 1]
        dy = heatmaps[bi, pi, y + 1, x] - heatmaps[bi, pi, y - 1, x]
        pts[bi, pi, 0] += 0.25 * np.sign(dx)
        pts[bi, pi, 1] += 0.25 * np.sign(dy)
        return pts

    def landmarks(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        import torch  # noqa: PLC0415

        image = check_image_rgb(image_rgb)
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return np.empty((0, self.num_points, 2))
        centres, sides = self.crop_frames(boxes)
        crops = self._crops(image, centres, sides)
        batch = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        with torch.no_grad():
            out = self.net(batch)
            heat = out[-1] if isinstance(out, (list, tuple)) else out
            if self.flip_input:
                from face_alignment.utils import flip  # noqa: PLC0415

                flipped = self.net(torch.flip(batch, dims=[3]))
                flipped = flipped[-1] if isinstance(flipped, (list, tuple)) else flipped
                heat = heat + flip(flipped, is_label=True)
        pts_hm = self.decode_heatmaps(heat.float().cpu().numpy())
        # heat-map pixel k covers crop pixels [4k, 4k + 4): centre at (k + 0.5) * side / 64 from the crop edge
        scale = (sides / HEATMAP_RESOLUTION)[:, None, None]
        origin = (centres - sides[:, None] / 2.0)[:, None, :]
        return origin + (pts_hm + 0.5) * scale
