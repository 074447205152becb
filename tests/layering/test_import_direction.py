"""One direction of dependency (docs/architecture.md): the geometry layer ``styleinv_data/crop/``
imports nothing from the pipeline, ``styleinv_data`` nothing from ``styleinv_model``, and the
benchmarks do not import each other. Checked on the source (every import statement, also those
inside functions) and at run time (what importing the geometry layer loads)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder, forbidden", [
    ("styleinv_data/crop", ("styleinv_data.pipeline", "styleinv_data.commands", "styleinv_data.cli", "styleinv_model")),
    ("styleinv_data", ("styleinv_model",)),
])
def test_package_imports_nothing_above_it(folder: str, forbidden: tuple[str, ...]) -> None:
    offenders = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for module in _imported_modules(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(REPO)} imports {module}")
    assert not offenders, offenders


def test_benchmarks_do_not_import_each_other() -> None:
    """No two benchmark scripts import each other (shared code goes into a helper module without a
    main, such as crop_media.py); a one-way use of another script's helpers is allowed."""
    paths = sorted((REPO / "benchmarks").glob("*.py"))
    imports = {path.stem: {m.split(".")[0] for m in _imported_modules(path)} for path in paths}
    mutual = sorted({tuple(sorted((a, b))) for a, targets in imports.items() for b in targets
                     if b in imports and a in imports[b] and a != b})
    assert not mutual, f"benchmark scripts importing each other: {mutual}"


def test_importing_the_geometry_layer_loads_no_pipeline_module() -> None:
    modules = [f"styleinv_data.crop.{p.stem}" for p in sorted((REPO / "styleinv_data" / "crop").glob("*.py"))
               if p.stem != "__init__"]
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('styleinv_data.pipeline', 'styleinv_model'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout
