"""Perceptual losses of the stage-2 inversion encoder (pSp-style): LPIPS (AlexNet, v0.1) and the
ArcFace identity loss. Weights come only from local files (see docs/perceptual.md); nothing
downloads.

`load_optional_perceptual` is what a trainer calls: it returns each loss whose weight is > 0 and
whose files exist, prints one line for each loss it leaves off because a file is absent, and raises
when a file exists but is unusable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from styleinv_model.train.perceptual.arcface import (ARCFACE_ENV, ARCFACE_FILE, ARCFACE_HINT, IdentityLoss,
                                                     IdentityLossOutput, IRSE50, arcface_preprocess,
                                                     default_arcface_path)
from styleinv_model.train.perceptual.lpips import (ALEXNET_ENV, ALEXNET_FILE, ALEXNET_HINT, LINEAR_ENV,
                                                   LINEAR_FILE, LINEAR_HINT, LPIPS, LPIPSPaths,
                                                   default_lpips_paths, weights_dir)


def load_optional_perceptual(
    lpips_weight: float,
    id_weight: float,
    *,
    lpips_alexnet: str | os.PathLike[str] | None = None,
    lpips_linear: str | os.PathLike[str] | None = None,
    arcface: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[LPIPS | None, IdentityLoss | None]:
    """(lpips or None, identity loss or None) for a trainer with these loss weights.

    A loss is None when its weight is <= 0 (its files are not looked at), or when a file it needs
    does not exist: then `log` gets one line, e.g. ``LPIPS loss off: /x/alexnet-owt-7be5be79.pth
    not found; set STYLEINV_LPIPS_ALEXNET ...``. A file that exists but is corrupt or holds the
    wrong keys/shapes raises ValueError (a silent fallback would change the training objective).
    Each path left None falls back on its own to `default_lpips_paths()` / `default_arcface_path()`
    (env var, then the weights folder), so the Stage2Config fields `lpips_alexnet`, `lpips_linear`
    and `arcface` can be passed as they are. The modules are returned on the CPU; move them with ``.to(device)``."""
    lpips_module: LPIPS | None = None
    id_module: IdentityLoss | None = None
    if lpips_weight > 0:
        defaults = default_lpips_paths()
        paths = LPIPSPaths(alexnet=Path(lpips_alexnet) if lpips_alexnet is not None else defaults.alexnet,
                           linear=Path(lpips_linear) if lpips_linear is not None else defaults.linear)
        missing = [(path, env, hint) for path, env, hint in ((paths.alexnet, ALEXNET_ENV, ALEXNET_HINT),
                                                             (paths.linear, LINEAR_ENV, LINEAR_HINT))
                   if not Path(path).is_file()]
        if missing:
            path, env, hint = missing[0]
            log(f"LPIPS loss off (weight {lpips_weight:g}): {path} not found; set {env} to {hint}")
        else:
            lpips_module = LPIPS.from_files(paths.alexnet, paths.linear)
    if id_weight > 0:
        path = Path(arcface) if arcface is not None else default_arcface_path()
        if not path.is_file():
            log(f"ID loss off (weight {id_weight:g}): {path} not found; set {ARCFACE_ENV} to {ARCFACE_HINT}")
        else:
            id_module = IdentityLoss.from_file(path)
    return lpips_module, id_module


__all__ = [
    "ALEXNET_ENV", "ALEXNET_FILE", "ARCFACE_ENV", "ARCFACE_FILE", "IRSE50", "IdentityLoss", "IdentityLossOutput",
    "LINEAR_ENV", "LINEAR_FILE", "LPIPS", "LPIPSPaths", "arcface_preprocess", "default_arcface_path",
    "default_lpips_paths", "load_optional_perceptual", "weights_dir",
]
