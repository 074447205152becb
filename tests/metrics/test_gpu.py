"""The networks give the same features on a CUDA device as on the CPU (skipped without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_features_match_cpu(i3d_extractor, inception_extractor, carphone_frames) -> None:
    from styleinv_model.metrics.networks import I3DExtractor, InceptionExtractor

    clip = carphone_frames[None, :16]
    gpu_i3d = I3DExtractor.load(device="cuda")
    np.testing.assert_allclose(gpu_i3d(clip), i3d_extractor(clip), atol=5e-3, rtol=1e-3)  # TF32/cuDNN differences
    gpu_inception = InceptionExtractor.load(device="cuda")
    np.testing.assert_allclose(gpu_inception(carphone_frames[:2]), inception_extractor(carphone_frames[:2]), atol=5e-3, rtol=1e-3)
