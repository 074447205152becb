"""Implementation selection (never a silent fallback) and the CUDA build check."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from styleinv_model.ops import backend, build


class _FakeCudaTensor(SimpleNamespace):
    """Only `.device` is read by resolve_impl."""


def _cuda_like() -> _FakeCudaTensor:
    return _FakeCudaTensor(device=torch.device("cuda", 0))


def test_auto_warns_once_with_reason_when_kernels_unavailable(monkeypatch):
    monkeypatch.delenv("STYLEINV_OPS", raising=False)
    monkeypatch.setattr(build, "get_plugin", lambda: (None, "ninja is not installed (pip install ninja)"))
    monkeypatch.setattr(backend, "_warned_reasons", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert backend.resolve_impl("auto", _cuda_like(), "bias_act") == "ref"
        assert backend.resolve_impl("auto", _cuda_like(), "upfirdn2d") == "ref"
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "ninja is not installed" in messages[0]


def test_explicit_cuda_raises_with_reason(monkeypatch):
    monkeypatch.setattr(build, "get_plugin", lambda: (None, "no CUDA device is available"))
    with pytest.raises(RuntimeError, match="no CUDA device is available"):
        backend.resolve_impl("cuda", _cuda_like(), "bias_act")
    monkeypatch.setenv("STYLEINV_OPS", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        backend.resolve_impl("auto", _cuda_like(), "bias_act")


def test_ref_forced_never_builds(monkeypatch):
    def fail():
        raise AssertionError("must not build")

    monkeypatch.setattr(build, "get_plugin", fail)
    monkeypatch.setenv("STYLEINV_OPS", "ref")
    assert backend.resolve_impl("auto", _cuda_like(), "bias_act") == "ref"


def test_cpu_tensors_use_reference_silently(monkeypatch):
    monkeypatch.delenv("STYLEINV_OPS", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backend.resolve_impl("auto", torch.zeros(1), "bias_act") == "ref"


def test_build_key_changes_with_sources_and_arch(tmp_path):
    assert build.build_key("9.0") != build.build_key("8.0")
    assert len(build.build_key("9.0")) == 12


@pytest.fixture(scope="session")
def extension_cache_dir() -> Path:
    """Persistent across runs (so CI rebuilds only when a source changes)."""
    root = Path(os.environ.get("STYLEINV_TEST_EXTENSIONS_DIR", Path.home() / ".cache" / "styleinv" / "test-extensions"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def test_cuda_extension_builds_and_imports(extension_cache_dir):
    """Compile all kernels for sm_90 only (no GPU needed) and import the module."""
    if torch.version.cuda is None:
        pytest.skip(f"torch {torch.__version__} is a CPU build: the CUDA extension cannot be built")
    if build.find_toolchain() is None:
        pytest.skip("nvcc / CUDA toolkit not found (set CUDA_HOME): cannot check the CUDA build")
    if not build.ensure_ninja_on_path():
        pytest.skip("ninja is not installed (pip install ninja): cannot check the CUDA build")
    module = build.build_extension(arch_list="9.0", build_root=extension_cache_dir)
    assert callable(module.bias_act) and callable(module.upfirdn2d)
    assert "fused bias" in module.bias_act.__doc__
    # Calling a kernel with CPU tensors fails with the kernel's own check, not a crash.
    with pytest.raises(RuntimeError, match="CUDA tensor"):
        module.upfirdn2d(torch.zeros([1, 1, 4, 4]), torch.ones([1, 1]), 1, 1, 1, 1, 0, 0, 0, 0, False, 1.0)
