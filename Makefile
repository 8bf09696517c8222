# storelens — every command a newcomer needs. `make demo` and `make test` build .venv first
# when it is missing or when requirements.lock / pyproject.toml changed since it was built.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.storelens-installed
# boxmot, a benchmark peer, pins opencv-python<5: it gets its own environment, which borrows
# torch from .venv through a .pth file instead of installing a second 5 GB copy.
BOXMOT_VENV := .venv-boxmot
BOXMOT_STAMP := $(BOXMOT_VENV)/.installed
BOXMOT_VERSION := 25.0.0
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0
export MLFLOW_DISABLE_TELEMETRY := true
export RAY_USAGE_STATS_ENABLED := 0
export RAY_AUTH_MODE := disabled

.PHONY: venv peers demo test test-fast bench lint lock clean

venv: $(STAMP)

# The lock pins every package (torch/torchvision come from local disk on these machines).
# A changed lock or pyproject rebuilds the environment from scratch, so it is exactly the lock.
$(STAMP): requirements.lock pyproject.toml
	@if [ -d $(VENV) ]; then echo "requirements.lock or pyproject.toml changed: rebuilding $(VENV)"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

peers: $(BOXMOT_STAMP)

$(BOXMOT_STAMP): $(STAMP)
	rm -rf $(BOXMOT_VENV)
	$(PYTHON) -m venv $(BOXMOT_VENV)
	$(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
		> $$($(BOXMOT_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/zz_storelens_torch.pth
	$(BOXMOT_VENV)/bin/python -m pip install --quiet boxmot==$(BOXMOT_VERSION) "setuptools<81"
	@touch $(BOXMOT_STAMP)

demo: $(STAMP)
	$(BIN)/storelens demo

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	@$(MAKE) --no-print-directory peers || echo "boxmot could not be installed: the benchmark skips its rows"
	$(BIN)/storelens bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check storelens tracking datasets training serving models tests evaluation inference attribution storage
	$(BIN)/mypy

# Regenerate requirements.lock from the current environment (after changing dependencies).
lock:
	@printf '# Exact package set for storelens on Python 3.11 (made by `make lock` from a working .venv).\n# torch/torchvision come from local disk on the project machines; any other release pulls GBs.\n# Installed with --no-deps: this file is the whole closure. jupedsim GUI extras (PySide6, vtk;\n# 1.2 GB, only for its visualiser) are left out on purpose, so `pip check` names them.\n' > requirements.lock.tmp
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip|storelens)==' >> requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock

clean:
	rm -rf $(VENV) $(BOXMOT_VENV) runs build dist *.egg-info
