"""Build (once, cached) and load the CUDA extension that holds every styleinv kernel.

The sources in `csrc/` compile through `torch.utils.cpp_extension.load` with ninja into a cache
directory keyed by a hash of the sources, the torch/CUDA/Python versions and the target GPU
architectures, so a stale build is never reused. Environment:

* ``STYLEINV_EXTENSIONS_DIR``: cache root (default ``~/.cache/styleinv/extensions``);
* ``CUDA_HOME``: the CUDA toolkit (default: ``/usr/local/cuda`` or the toolkit of ``nvcc`` on PATH);
* ``TORCH_CUDA_ARCH_LIST``: target architectures (default: those of the visible GPUs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

CSRC_DIR = Path(__file__).resolve().parent / "csrc"
SOURCE_NAMES = ("ops.cpp", "bias_act.cu", "upfirdn2d.cu")
HEADER_NAMES = ("ops.h",)

_lock = threading.Lock()
_plugin: ModuleType | None = None
_failure: str | None = None


@dataclass(frozen=True)
class Toolchain:
    """Where the CUDA toolkit and its runtime library are."""

    cuda_home: Path
    nvcc: Path
    cudart_dir: Path | None
    cudart_name: str | None  # the file to link when no unversioned libcudart.so exists


def _is_toolkit(root: Path) -> bool:
    return (root / "bin" / "nvcc").is_file() and (root / "include" / "cuda_runtime.h").is_file()


def find_cuda_home() -> Path | None:
    """The CUDA toolkit root: $CUDA_HOME / $CUDA_PATH, /usr/local/cuda, or found from `nvcc` on PATH.

    `nvcc` on PATH may be a wrapper script, so the toolkit must hold bin/nvcc and include/."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
        try:  # a wrapper such as `exec /usr/local/cuda-13.0/bin/nvcc "$@"`
            text = Path(nvcc).read_text(errors="ignore")[:4096]
            for token in text.split():
                if token.endswith("/bin/nvcc"):
                    candidates.append(str(Path(token).parent.parent))
        except OSError:
            pass
    for candidate in candidates:
        if candidate and _is_toolkit(Path(candidate)):
            return Path(candidate).resolve()
    return None


def find_cudart(cuda_home: Path) -> tuple[Path | None, str | None]:
    """(directory, file name) of the CUDA runtime library to link against."""
    for sub in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
        if (cuda_home / sub / "libcudart.so").exists():
            return (cuda_home / sub).resolve(), None
    # pip wheels (nvidia-cuda-runtime) ship only the versioned library.
    purelib = Path(sysconfig.get_paths()["purelib"])
    for lib in sorted(purelib.glob("nvidia/*/lib/libcudart.so*")) + sorted(purelib.glob("nvidia/cuda_runtime/lib/libcudart.so*")):
        return lib.parent, lib.name
    return None, None


def find_toolchain() -> Toolchain | None:
    cuda_home = find_cuda_home()
    if cuda_home is None:
        return None
    cudart_dir, cudart_name = find_cudart(cuda_home)
    return Toolchain(cuda_home, cuda_home / "bin" / "nvcc", cudart_dir, cudart_name)


def ensure_ninja_on_path() -> bool:
    """torch runs `ninja` from PATH; the pip package's binary may sit in an inactive venv's bin/."""
    if shutil.which("ninja"):
        return True
    candidates = [Path(sys.executable).parent]
    try:
        import ninja  # type: ignore[import-not-found]

        candidates.insert(0, Path(ninja.BIN_DIR))
    except ImportError:
        pass
    for directory in candidates:
        if (directory / "ninja").is_file():
            os.environ["PATH"] = f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"
            return True
    return False


def source_paths() -> list[Path]:
    return [CSRC_DIR / name for name in SOURCE_NAMES]


def build_key(arch_list: str) -> str:
    """Hash of the sources, the build environment and the target architectures."""
    digest = hashlib.sha256()
    for path in source_paths() + [CSRC_DIR / name for name in HEADER_NAMES]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(f"{torch.__version__}|{torch.version.cuda}|{sys.version_info[:2]}|{arch_list}".encode())
    return digest.hexdigest()[:12]


def default_arch_list() -> str:
    """$TORCH_CUDA_ARCH_LIST, else the visible GPUs' compute capabilities (e.g. "9.0")."""
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    if torch.cuda.is_available():
        caps = sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})
        return ";".join(f"{major}.{minor}" for major, minor in caps)
    raise RuntimeError("no GPU is visible: pass arch_list (e.g. '9.0') or set TORCH_CUDA_ARCH_LIST")


def cache_root() -> Path:
    return Path(os.environ.get("STYLEINV_EXTENSIONS_DIR", Path.home() / ".cache" / "styleinv" / "extensions"))


def build_extension(arch_list: str | None = None, build_root: Path | None = None,
                    verbose: bool = False) -> ModuleType:
    """Compile (or reuse the cached build of) the extension and import it.

    Works without a GPU when `arch_list` is given (the kernels then cannot run, but the build and
    the import are checked). Raises RuntimeError with the reason on failure."""
    from torch.utils import cpp_extension

    if torch.version.cuda is None:
        raise RuntimeError(f"this torch build ({torch.__version__}) has no CUDA support")
    if not ensure_ninja_on_path() or not cpp_extension.is_ninja_available():
        raise RuntimeError("ninja is not installed (pip install ninja)")
    toolchain = find_toolchain()
    if toolchain is None:
        raise RuntimeError("no CUDA toolkit found (nvcc and include/cuda_runtime.h): set CUDA_HOME")
    arch_list = arch_list or default_arch_list()
    key = build_key(arch_list)
    name = f"styleinv_ops_{key}"
    build_dir = (build_root or cache_root()) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    ldflags = []
    if toolchain.cudart_dir is not None:
        ldflags.append(f"-L{toolchain.cudart_dir}")
        if toolchain.cudart_name is not None:
            ldflags.append(f"-l:{toolchain.cudart_name}")
    previous_env = {k: os.environ.get(k) for k in ("TORCH_CUDA_ARCH_LIST", "CUDA_HOME")}
    previous_home = cpp_extension.CUDA_HOME
    os.environ["TORCH_CUDA_ARCH_LIST"] = arch_list
    os.environ["CUDA_HOME"] = str(toolchain.cuda_home)
    cpp_extension.CUDA_HOME = str(toolchain.cuda_home)  # torch resolves it once at import time
    try:
        return cpp_extension.load(
            name=name, sources=[str(p) for p in source_paths()], build_directory=str(build_dir),
            extra_cflags=["-O3"], extra_cuda_cflags=["-O3", "-lineinfo"], extra_ldflags=ldflags,
            with_cuda=True, verbose=verbose)
    except Exception as error:  # noqa: BLE001 - reported with its first line and the build log location
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RuntimeError(f"building the CUDA extension failed ({first_line}); build files in {build_dir}") from error
    finally:
        for env_key, value in previous_env.items():
            if value is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = value
        cpp_extension.CUDA_HOME = previous_home


def get_plugin() -> tuple[ModuleType | None, str | None]:
    """(module, None) when the CUDA kernels are usable, else (None, why). Built once per process."""
    global _plugin, _failure
    with _lock:
        if _plugin is not None or _failure is not None:
            return _plugin, _failure
        if not torch.cuda.is_available():
            _failure = "no CUDA device is available"
        else:
            try:
                _plugin = build_extension()
            except RuntimeError as error:
                _failure = str(error)
        return _plugin, _failure

