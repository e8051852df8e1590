# Quick start: `make demo` (train on the bundled MNIST sample, offline) and `make test`.
# TORCH picks the PyTorch requirement installed before the package; the default is a CPU build that
# installs in seconds here. Elsewhere, e.g.: make demo TORCH=torch
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo

.PHONY: demo test install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"

demo: install
	$(BIN)/infogan train --dataset mnist-sample --epochs 36 --batch-size 64 \
		--outdir $(DEMO_DIR) --overwrite
	@echo
	@echo "Pictures: $(DEMO_DIR)/samples/ (a 10x10 grid per epoch, row = category; progress.gif animates them),"
	@echo "          $(DEMO_DIR)/traversals/ (one image per continuous code), $(DEMO_DIR)/plots/ (curves)."

test: install-dev
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
