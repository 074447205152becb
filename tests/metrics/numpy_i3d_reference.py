"""An independent, channels-last NumPy forward pass of the Kinetics I3D over the raw flax tree.

Written from the TF/JAX definition (Conv 'SAME', batch norm without scale, eps 1e-3, max pool 'SAME'
with -inf padding, VALID (2, 7, 7) average pool, 1x1x1 logits conv, time mean). It shares no code
with ``styleinv_model.metrics.i3d``: no torch, no converted state dict. Computes in float64.
"""

from __future__ import annotations

import math

import numpy as np

MIXED = ("Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "Mixed_5b", "Mixed_5c")


def _same_pads(shape: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...]) -> list[tuple[int, int]]:
    pads = []
    for size, k, s in zip(shape, window, strides):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def conv3d_same(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int, int]) -> np.ndarray:
    """x [T, H, W, Cin], kernel [kT, kH, kW, Cin, Cout] -> [T', H', W', Cout] (one video)."""
    kt, kh, kw, _, cout = kernel.shape
    pads = _same_pads(x.shape[:3], (kt, kh, kw), strides)
    xp = np.pad(x, pads + [(0, 0)])
    out_shape = [math.ceil(n / s) for n, s in zip(x.shape[:3], strides)]
    out = np.zeros(out_shape + [cout], dtype=np.float64)
    st, sh, sw = strides
    for dt in range(kt):
        for dh in range(kh):
            for dw in range(kw):
                patch = xp[
                    dt : dt + st * out_shape[0] : st,
                    dh : dh + sh * out_shape[1] : sh,
                    dw : dw + sw * out_shape[2] : sw,
                ]
                out += patch @ kernel[dt, dh, dw]
    return out


def max_pool_same(x: np.ndarray, window: tuple[int, int, int], strides: tuple[int, int, int]) -> np.ndarray:
    pads = _same_pads(x.shape[:3], window, strides)
    xp = np.pad(x, pads + [(0, 0)], constant_values=-np.inf)
    out_shape = [math.ceil(n / s) for n, s in zip(x.shape[:3], strides)]
    out = np.full(out_shape + [x.shape[3]], -np.inf)
    for dt in range(window[0]):
        for dh in range(window[1]):
            for dw in range(window[2]):
                patch = xp[
                    dt : dt + strides[0] * out_shape[0] : strides[0],
                    dh : dh + strides[1] * out_shape[1] : strides[1],
                    dw : dw + strides[2] * out_shape[2] : strides[2],
                ]
                np.maximum(out, patch, out=out)
    return out


def unit(x: np.ndarray, params: dict, stats: dict, strides: tuple[int, int, int] = (1, 1, 1)) -> np.ndarray:
    kernel = params["Conv_0"]["kernel"].astype(np.float64)
    y = conv3d_same(x, kernel, strides)
    mean = stats["BatchNorm_0"]["mean"].reshape(-1)
    var = stats["BatchNorm_0"]["var"].reshape(-1)
    beta = params["BatchNorm_0"]["bias"].reshape(-1)
    y = (y - mean) / np.sqrt(var + 1e-3) + beta
    return np.maximum(y, 0.0)


def mixed(x: np.ndarray, params: dict, stats: dict) -> np.ndarray:
    b0 = unit(x, params["Branch_0/Conv3d_0a_1x1"], stats["Branch_0/Conv3d_0a_1x1"])
    b1 = unit(x, params["Branch_1/Conv3d_0a_1x1"], stats["Branch_1/Conv3d_0a_1x1"])
    b1 = unit(b1, params["Branch_1/Conv3d_0b_3x3"], stats["Branch_1/Conv3d_0b_3x3"])
    b2 = unit(x, params["Branch_2/Conv3d_0a_1x1"], stats["Branch_2/Conv3d_0a_1x1"])
    b2 = unit(b2, params["Branch_2/Conv3d_0b_3x3"], stats["Branch_2/Conv3d_0b_3x3"])
    b3 = max_pool_same(x, (3, 3, 3), (1, 1, 1))
    b3 = unit(b3, params["Branch_3/Conv3d_0b_1x1"], stats["Branch_3/Conv3d_0b_1x1"])
    return np.concatenate([b0, b1, b2, b3], axis=-1)


def i3d_logits_numpy(video_thwc: np.ndarray, tree: dict) -> np.ndarray:
    """video [T, 224, 224, 3] in [-1, 1] -> 400 logits (float64)."""
    p, s = tree["params"], tree["batch_stats"]
    x = video_thwc.astype(np.float64)
    x = unit(x, p["Conv3d_1a_7x7"], s["Conv3d_1a_7x7"], (2, 2, 2))
    x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
    x = unit(x, p["Conv3d_2b_1x1"], s["Conv3d_2b_1x1"])
    x = unit(x, p["Conv3d_2c_3x3"], s["Conv3d_2c_3x3"])
    x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
    x = mixed(x, p["Mixed_3b"], s["Mixed_3b"])
    x = mixed(x, p["Mixed_3c"], s["Mixed_3c"])
    x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
    for name in MIXED[2:7]:
        x = mixed(x, p[name], s[name])
    x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
    x = mixed(x, p["Mixed_5b"], s["Mixed_5b"])
    x = mixed(x, p["Mixed_5c"], s["Mixed_5c"])
    t, h, w, _ = x.shape
    pooled = np.stack(
        [x[i : i + 2, j : j + 7, k : k + 7].mean(axis=(0, 1, 2)) for i in range(t - 1) for j in range(h - 6) for k in range(w - 6)]
    )  # VALID (2, 7, 7) windows, stride 1
    logits_param = p["Logits/Conv3d_0c_1x1"]["Conv_0"]
    logits = pooled @ logits_param["kernel"].reshape(pooled.shape[1], -1).astype(np.float64) + logits_param["bias"]
    return logits.mean(axis=0)
