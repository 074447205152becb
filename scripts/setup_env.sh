#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install the pinned environment.
# Idempotent: a stamp holding the hash of the requirement files skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PY" -m venv "$VENV"
fi

stamp="$VENV/.styleinv-installed"
want=$(cat requirements/pinned.txt requirements/nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "[setup] installing pinned requirements (torch takes ~80 s the first time)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip wheel setuptools 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements/pinned.txt 2>&1 | grep -v "is ignored: it is neither" || true
# Packages whose declared dependencies are wrong or too old (e.g. they pin torch 1.9): installed without them.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements/nodeps.txt 2>&1 | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither" || true
# Fail loudly if anything essential is missing (pip output above is filtered).
"$VENV/bin/python" - <<'PY'
import importlib, sys
mods = ["torch", "torchvision", "numpy", "scipy", "PIL", "yaml", "click", "tqdm", "joblib", "ffmpeg",
        "imageio_ffmpeg", "av", "dlib", "cv2", "skvideo", "skimage",
        "safetensors", "jsonschema", "pyarrow", "dask", "distributed", "hypothesis", "pytest",
        "styleinv_data", "styleinv_model"]
bad = []
for m in mods:
    try:
        importlib.import_module(m)
    except Exception as e:  # noqa: BLE001
        bad.append(f"{m}: {type(e).__name__}: {e}")
import importlib.util
# face_recognition_models' __init__ imports pkg_resources (gone from new setuptools): locate it only.
if importlib.util.find_spec("face_recognition_models") is None:
    bad.append("face_recognition_models: not installed")
if bad:
    print("[setup] these imports failed:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
echo "$want" > "$stamp"
echo "[setup] environment ready in $VENV"
