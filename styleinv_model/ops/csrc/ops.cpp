// Python bindings of the styleinv CUDA ops.
#include <torch/python.h>
#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("bias_act", &bias_act_cuda, "fused bias + activation + gain + clamp (and its derivatives)");
    m.def("upfirdn2d", &upfirdn2d_cuda, "upsample, pad, FIR filter, downsample");
}
