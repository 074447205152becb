#!/usr/bin/env bash
# `make gpu-check`: the prepared GPU check (scripts/gpu_check.py) with the machine's own python3.
# On a GPU machine that has no package registry and lacks jsonschema, the wheels carried in .whl/
# (make gpu-wheels, here) are installed into a private folder first. Arguments pass through (e.g. --cpu-selftest).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c "import jsonschema" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    site="${TMPDIR:-/tmp}/styleinv-gpu-check-site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$PY" scripts/gpu_check.py "$@"
