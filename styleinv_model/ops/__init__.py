"""Custom ops of StyleGAN2: PyTorch references and CUDA kernels with one signature each.

Select with ``impl="auto" | "cuda" | "ref"`` per call or ``STYLEINV_OPS=ref|cuda`` globally.
"""

from styleinv_model.ops.backend import forced_impl, resolve_impl
from styleinv_model.ops.bias_act import ACTIVATIONS, activation_gain, bias_act
from styleinv_model.ops.conv2d_gradfix import conv2d, conv_transpose2d, no_weight_gradients
from styleinv_model.ops.conv2d_resample import conv2d_resample
from styleinv_model.ops.upfirdn2d import (downsample2d, filter2d, setup_filter, upfirdn2d,
                                          upsample2d)

__all__ = [
    "ACTIVATIONS", "activation_gain", "bias_act", "conv2d", "conv_transpose2d", "conv2d_resample",
    "downsample2d", "filter2d", "forced_impl", "no_weight_gradients", "resolve_impl", "setup_filter",
    "upfirdn2d", "upsample2d",
]
