// Fused bias + activation + gain + clamp, with first and second derivatives, for one element per thread.
#include <algorithm>

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include "ops.h"

namespace {

enum Activation : int { kLinear = 1, kRelu, kLrelu, kTanh, kSigmoid, kElu, kSelu, kSoftplus, kSwish };

constexpr double kSeluScale = 1.0507009873554805;
constexpr double kSeluAlpha = 1.6732632423543772;

// Value, first or second derivative (order 0, 1, 2) of the activation at z.
template <typename T>
__device__ __forceinline__ T activation(int act, int order, T z, T alpha) {
    const T one = 1, zero = 0, two = 2;
    switch (act) {
    case kLinear:
        return order == 0 ? z : (order == 1 ? one : zero);
    case kRelu:
        return order == 0 ? (z > zero ? z : zero) : (order == 1 ? (z > zero ? one : zero) : zero);
    case kLrelu:
        return order == 0 ? (z > zero ? z : z * alpha) : (order == 1 ? (z > zero ? one : alpha) : zero);
    case kTanh: {
        T t = tanh(z);
        return order == 0 ? t : (order == 1 ? one - t * t : -two * t * (one - t * t));
    }
    case kSigmoid: {
        T s = one / (one + exp(-z));
        return order == 0 ? s : (order == 1 ? s * (one - s) : s * (one - s) * (one - two * s));
    }
    case kElu:
        if (z > zero) return order == 0 ? z : (order == 1 ? one : zero);
        return order == 0 ? exp(z) - one : exp(z);
    case kSelu: {
        const T scale = static_cast<T>(kSeluScale), a = static_cast<T>(kSeluAlpha);
        if (z > zero) return order == 0 ? scale * z : (order == 1 ? scale : zero);
        return order == 0 ? scale * a * (exp(z) - one) : scale * a * exp(z);
    }
    case kSoftplus: {
        // torch's softplus returns z itself above the threshold 20.
        if (z > static_cast<T>(20)) return order == 0 ? z : (order == 1 ? one : zero);
        T s = one / (one + exp(-z));
        return order == 0 ? log1p(exp(z)) : (order == 1 ? s : s * (one - s));
    }
    case kSwish: {
        T s = one / (one + exp(-z));
        if (order == 0) return z * s;
        if (order == 1) return s * (one + z * (one - s));
        return s * (one - s) * (two + z * (one - two * s));
    }
    }
    return zero;
}

template <typename scalar_t>
__global__ void bias_act_kernel(scalar_t* __restrict__ out, const scalar_t* __restrict__ x,
                                const scalar_t* __restrict__ b, const scalar_t* __restrict__ dy, int64_t numel,
                                int64_t channels, int64_t inner, int mode, int act, double alpha_f, double gain_f,
                                double clamp_f) {
    using acc_t = typename styleinv::AccType<scalar_t>::type;
    const acc_t alpha = alpha_f, gain = gain_f, clamp = clamp_f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < numel;
         i += (int64_t)blockDim.x * gridDim.x) {
        acc_t z = static_cast<acc_t>(x[i]);
        if (b != nullptr) z += static_cast<acc_t>(b[(i / inner) % channels]);
        acc_t y = activation<acc_t>(act, 0, z, alpha) * gain;
        if (mode == 0) {
            if (clamp >= 0) y = y > clamp ? clamp : (y < -clamp ? -clamp : y);
            out[i] = static_cast<scalar_t>(y);
        } else {
            // The clamp passes no gradient where it saturates.
            const bool saturated = clamp >= 0 && (y > clamp || y < -clamp);
            acc_t g = saturated ? acc_t(0) : static_cast<acc_t>(dy[i]) * gain * activation<acc_t>(act, mode, z, alpha);
            out[i] = static_cast<scalar_t>(g);
        }
    }
}

}  // namespace

at::Tensor bias_act_cuda(at::Tensor x, at::Tensor b, at::Tensor dy, int64_t mode, int64_t dim,
                            int64_t act_id, double alpha, double gain, double clamp) {
    TORCH_CHECK(x.is_cuda(), "bias_act: x must be a CUDA tensor");
    TORCH_CHECK(x.is_contiguous(), "bias_act: x must be contiguous");
    TORCH_CHECK(mode >= 0 && mode <= 2, "bias_act: mode must be 0, 1 or 2");
    TORCH_CHECK(act_id >= 1 && act_id <= 9, "bias_act: unknown activation id");
    TORCH_CHECK(b.numel() == 0 || (b.dim() == 1 && dim >= 0 && dim < x.dim() && b.size(0) == x.size(dim)),
                "bias_act: b must be empty or 1-D with x.shape[dim] elements");
    TORCH_CHECK(b.numel() == 0 || (b.is_contiguous() && b.scalar_type() == x.scalar_type() && b.device() == x.device()),
                "bias_act: b must be contiguous, on x's device, with x's dtype");
    TORCH_CHECK(mode == 0 || (dy.sizes() == x.sizes() && dy.is_contiguous() && dy.scalar_type() == x.scalar_type()),
                "bias_act: dy must match x in shape and dtype and be contiguous");
    const c10::cuda::OptionalCUDAGuard device_guard(x.device());
    auto out = at::empty_like(x);
    const int64_t numel = x.numel();
    if (numel == 0) return out;
    int64_t inner = 1, channels = 1;
    if (b.numel() > 0) {
        channels = x.size(dim);
        for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
    }
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((numel + threads - 1) / threads, 65535LL * 8);
    auto stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(), "bias_act_cuda", [&] {
        bias_act_kernel<scalar_t><<<blocks, threads, 0, stream>>>(
            out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), b.numel() ? b.data_ptr<scalar_t>() : nullptr,
            mode ? dy.data_ptr<scalar_t>() : nullptr, numel, channels, inner, (int)mode, (int)act_id,
            alpha, gain, clamp);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
