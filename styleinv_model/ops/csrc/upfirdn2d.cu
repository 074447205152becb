// upfirdn2d: one thread per output pixel; only the filter taps that land on real (not
// zero-inserted, not padded) input pixels are visited, so the upsampling zeros cost nothing.
#include <algorithm>

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include "ops.h"

namespace {

struct UpFirDnParams {
    int64_t planes;  // N * C
    int in_h, in_w, out_h, out_w;
    int upx, upy, downx, downy;
    int padx0, pady0;
    int fh, fw;
    bool flip_filter;
    double gain;
};

// Smallest k >= 0 such that (base + k) is a non-negative multiple of `up`.
__device__ __forceinline__ int first_tap(int base, int up) {
    if (base < 0) return -base;  // base + k = 0
    const int r = base % up;
    return r == 0 ? 0 : up - r;
}

template <typename scalar_t>
__global__ void upfirdn2d_kernel(scalar_t* __restrict__ out, const scalar_t* __restrict__ x,
                                 const float* __restrict__ f, UpFirDnParams p) {
    using acc_t = typename styleinv::AccType<scalar_t>::type;
    const int64_t total = p.planes * p.out_h * p.out_w;
    for (int64_t index = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; index < total;
         index += (int64_t)blockDim.x * gridDim.x) {
        const int ox = index % p.out_w;
        const int oy = (index / p.out_w) % p.out_h;
        const int64_t plane = index / ((int64_t)p.out_w * p.out_h);
        const scalar_t* src = x + plane * p.in_h * p.in_w;
        // Output (oy, ox) reads the upsampled, padded signal at rows oy*downy + ky (ky < fh); that
        // row is input row (oy*downy + ky - pady0) / upy when the division is exact.
        const int base_y = oy * p.downy - p.pady0;
        const int base_x = ox * p.downx - p.padx0;
        int ky = first_tap(base_y, p.upy);
        const int kx0 = first_tap(base_x, p.upx);
        acc_t sum = 0;
        for (; ky < p.fh; ky += p.upy) {
            const int iy = (base_y + ky) / p.upy;
            if (iy >= p.in_h) break;
            for (int kx = kx0; kx < p.fw; kx += p.upx) {
                const int ix = (base_x + kx) / p.upx;
                if (ix >= p.in_w) break;
                // Convolution (not correlation) unless flip_filter: tap k pairs with f[fh-1-k].
                const int fy = p.flip_filter ? ky : p.fh - 1 - ky;
                const int fx = p.flip_filter ? kx : p.fw - 1 - kx;
                sum += static_cast<acc_t>(src[iy * p.in_w + ix]) * static_cast<acc_t>(f[fy * p.fw + fx]);
            }
        }
        out[index] = static_cast<scalar_t>(sum * static_cast<acc_t>(p.gain));
    }
}

}  // namespace

at::Tensor upfirdn2d_cuda(at::Tensor x, at::Tensor f, int64_t upx, int64_t upy, int64_t downx,
                             int64_t downy, int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1,
                             bool flip_filter, double gain) {
    TORCH_CHECK(x.is_cuda() && x.dim() == 4 && x.is_contiguous(), "upfirdn2d: x must be a contiguous 4-D CUDA tensor");
    TORCH_CHECK(f.is_cuda() && f.dim() == 2 && f.scalar_type() == at::kFloat && f.is_contiguous(),
                "upfirdn2d: f must be a contiguous float32 2-D CUDA tensor");
    TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, "upfirdn2d: up and down must be >= 1");
    const int64_t in_h = x.size(2), in_w = x.size(3), fh = f.size(0), fw = f.size(1);
    const int64_t out_h = (in_h * upy + pady0 + pady1 - fh + downy) / downy;
    const int64_t out_w = (in_w * upx + padx0 + padx1 - fw + downx) / downx;
    TORCH_CHECK(out_h >= 1 && out_w >= 1, "upfirdn2d: the padding and filter leave no output pixels");
    const c10::cuda::OptionalCUDAGuard device_guard(x.device());
    auto out = at::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
    UpFirDnParams p;
    p.planes = x.size(0) * x.size(1);
    p.in_h = (int)in_h; p.in_w = (int)in_w; p.out_h = (int)out_h; p.out_w = (int)out_w;
    p.upx = (int)upx; p.upy = (int)upy; p.downx = (int)downx; p.downy = (int)downy;
    p.padx0 = (int)padx0; p.pady0 = (int)pady0; p.fh = (int)fh; p.fw = (int)fw;
    p.flip_filter = flip_filter; p.gain = gain;
    const int64_t total = out.numel();
    if (total == 0) return out;
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535LL * 8);
    auto stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(), "upfirdn2d_cuda", [&] {
        upfirdn2d_kernel<scalar_t><<<blocks, threads, 0, stream>>>(out.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                                                                   f.data_ptr<float>(), p);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
