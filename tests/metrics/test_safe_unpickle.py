from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from styleinv_model.metrics.safe_unpickle import UnsafePickleError, load_numpy_pickle


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_loads_numpy_tree(tmp_path: Path) -> None:
    tree = {"params": {"conv": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}, "list": [np.int64(3), 1.5]}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(tree, protocol=4))
    loaded = load_numpy_pickle(path)
    np.testing.assert_array_equal(loaded["params"]["conv"]["kernel"], tree["params"]["conv"]["kernel"])
    assert loaded["params"]["conv"]["kernel"].dtype == np.float32


def test_refuses_code_and_never_runs_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"w": _Payload(marker)}))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        load_numpy_pickle(path)
    assert not marker.exists()


def test_refuses_object_arrays(tmp_path: Path) -> None:
    path = tmp_path / "objects.pkl"
    path.write_bytes(pickle.dumps({"w": np.array([{"a": 1}], dtype=object)}))
    with pytest.raises(UnsafePickleError):
        load_numpy_pickle(path)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.ckpt does not exist: check the path"):
        load_numpy_pickle(tmp_path / "absent.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(pickle.dumps({"w": np.zeros(3)})[:20])
    with pytest.raises(pickle.UnpicklingError, match="bad.ckpt"):
        load_numpy_pickle(bad)
