"""JSON-Schema validation of manifest lines, with errors that name the line, record and field.

The schema is ``manifests/schema.json`` (a byte-identical copy ships in the package as
``manifest.schema.json`` so an installed wheel can validate too).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

PACKAGED_SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


class ManifestError(ValueError):
    """A manifest (or the dataset it describes) is invalid; the message says where and how to fix it."""


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(PACKAGED_SCHEMA_PATH.read_text())


@functools.lru_cache(maxsize=2)
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = load_schema()
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]})


def _field_name(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # "'x' is a required property": name the missing key itself
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        parts.append(missing)
    if error.validator == "additionalProperties":
        return ".".join(parts) + " (unknown field: " + error.message + ")" if parts else f"(unknown field: {error.message})"
    return ".".join(parts) if parts else "(whole line)"


def validate_line(obj: Any, kind: str, where: str) -> None:
    """Validate one parsed JSON line as a ``header`` or ``record``; raise :class:`ManifestError`.

    ``where`` locates the line for the message, e.g. ``"train.jsonl line 4 (record 'clip3')"``.
    """
    errors = sorted(_validator(kind).iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    first = errors[0]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ManifestError(f"{where}: field {_field_name(first)!s}: {_short(first)}{more}")


def _short(error: jsonschema.ValidationError) -> str:
    if error.validator in ("not", "pattern") and error.absolute_path and error.absolute_path[-1] == "path":
        return f"{error.instance!r} is not a POSIX path relative to the dataset root (no '..', no leading '/')"
    msg = error.message
    return msg if len(msg) < 200 else msg[:197] + "..."


def check_relative_path(path: str, where: str) -> PurePosixPath:
    """Lexical check that ``path`` stays inside the root (the schema checks the same; this guards the API)."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or "\\" in path or ".." in p.parts or (len(path) > 1 and path[1] == ":"):
        raise ManifestError(
            f"{where}: field path: {path!r} escapes the dataset root; paths must be relative POSIX paths inside it"
        )
    return p
