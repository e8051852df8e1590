# Quick start: `make demo` (train on the bundled MNIST sample, offline) and `make test`.
# TORCH picks the PyTorch requirement installed before the package; the default is a CPU build that
# installs in seconds here. Elsewhere, e.g.: make demo TORCH=torch
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo

# torch-fidelity (evaluate --image-metrics) needs torchvision, which does not import beside the CPU-only torch
# above; its tests run in a second environment whose torch and torchvision match (here: the pair on disk).
FID_VENV ?= .venv-fidelity
FID_TORCH ?= torch==2.14.1 torchvision==0.29.1
FID_BIN := $(FID_VENV)/bin

.PHONY: demo test test-core lint docs install install-dev install-fidelity clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# setuptools notes on every editable install that a folder named like the package shadows it; the note is
# about editable installs in general, not this project, so the install's screen leaves it out
EDITABLE = PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -e

install: $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(EDITABLE) .

# The dev and fidelity environments are installed once and again only when pyproject.toml or this file
# changes (a stamp file in each venv): `make test` in an installed tree starts at once instead of asking pip
# to re-check every requirement. `make -B install-dev` reinstalls, e.g. after `TORCH=...` changes.
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(EDITABLE) ".[dev]"
	touch $@

# The per-epoch accuracy it prints is on the sample's 1,000 held-out digits (--eval-dataset). The run ends
# once it has settled, judged without labels (--stop-when-settled: docs/results.md#a-label-free-stop), after
# 12 epochs at the least and 36 at the most.
demo: install
	$(BIN)/infogan train --dataset mnist-sample --eval-dataset mnist-sample --epochs 36 --batch-size 64 \
		--stop-when-settled --min-epochs 12 --outdir $(DEMO_DIR) --overwrite
	@echo
	@echo "Pictures: $(DEMO_DIR)/samples/ (a 10x10 grid per epoch, row = category; progress.gif animates them),"
	@echo "          $(DEMO_DIR)/traversals/ (one image per continuous code), $(DEMO_DIR)/plots/ (curves)."

install-fidelity: $(FID_VENV)/.installed

$(FID_VENV)/.installed: pyproject.toml Makefile
	test -x $(FID_BIN)/python || $(PYTHON) -m venv $(FID_VENV)
	$(FID_BIN)/python -m pip install -q $(FID_TORCH)
	$(FID_BIN)/python -m pip install -q -e ".[fidelity]" pytest
	touch $@

# Everything: the suite, then the image-metric tests again where torch-fidelity imports (there a failed import
# fails the run instead of skipping it). -rs prints why each skipped test was skipped.
test: test-core install-fidelity
	INFOGAN_REQUIRE_FIDELITY=1 $(FID_BIN)/python -m pytest -q -rs tests/test_image_metrics.py

# Lint and format check (ruff, configured in pyproject.toml): `$(BIN)/ruff format infogan tests benchmarks tools` fixes
# the format, `$(BIN)/ruff check --fix ...` what it can of the rest.
lint: install-dev
	$(BIN)/ruff check infogan tests benchmarks tools main.py
	$(BIN)/ruff format --check infogan tests benchmarks tools main.py

# The docs site (mkdocs.yml, docs/) into build/site; --strict: a broken link or anchor, or any warning, fails.
# The reference pages are generated from the code (tools/docs_reference.py); tests/test_docs.py fails when stale.
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# --require-extras: a missing dev extra fails its tests here instead of skipping them. The suite runs on every
# core at once (pytest-xdist, one worker per core, each pinned to its own: tests/conftest.py); the tests of
# real process groups share one worker (--dist loadgroup), one after another.
test-core: lint docs
	$(BIN)/python -m pytest -q -rs --require-extras --durations=10 -n auto --dist loadgroup

clean:
	rm -rf $(VENV) $(FID_VENV) runs build .pytest_cache
