// Host entry points of the styleinv CUDA ops (one extension module holds all kernels).
#pragma once
// Only ATen and c10 headers here: the kernels avoid ATen/cuda/CUDAContext.h, which pulls in
// cuBLAS/cuSPARSE headers that a bare CUDA toolkit may lack (and slows the build).
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

// y = clamp(act(x + b) * gain) (mode 0); dy * gain * act'(x + b) * mask (mode 1);
// dy * gain * act''(x + b) * mask (mode 2). b may be empty; dy is empty in mode 0.
at::Tensor bias_act_cuda(at::Tensor x, at::Tensor b, at::Tensor dy, int64_t mode, int64_t dim,
                            int64_t act_id, double alpha, double gain, double clamp);

// Upsample (zero insertion), pad (negative crops), 2-D FIR filter, downsample; f is float32 [fh, fw].
at::Tensor upfirdn2d_cuda(at::Tensor x, at::Tensor f, int64_t upx, int64_t upy, int64_t downx,
                             int64_t downy, int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1,
                             bool flip_filter, double gain);

namespace styleinv {
// Accumulation type: float for half/bfloat16/float, double for double.
template <typename T> struct AccType { using type = float; };
template <> struct AccType<double> { using type = double; };
}  // namespace styleinv
