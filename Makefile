# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.digitlab-installed

.PHONY: setup system-deps demo test lint bench clean

setup: $(STAMP)

# The CPU build of torch goes in first and pinned: an unpinned torch would pull GBs of CUDA.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

demo: setup
	$(BIN)/digitlab data list
	$(BIN)/digitlab train --out runs/demo-$$(date +%Y%m%d-%H%M%S)
	$(BIN)/digitlab predict examples/seven.jpg examples/three-lined-paper.jpg
	$(BIN)/digitlab read examples/number-2026.jpg
	@echo "Open the report: $$(ls -td runs/demo-*/ | head -1)report/report.html"

lint: setup
	$(BIN)/ruff check src tests benchmarks

test: setup system-deps lint
	$(BIN)/python -m pytest -q

# The scan and server benchmarks measure the model `make demo` trained (the newest runs/demo-*).
bench: setup system-deps
	@ls -d runs/demo-*/ >/dev/null 2>&1 || { echo "make bench: no runs/demo-* yet: run 'make demo' first"; exit 2; }
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_training.py --processes 1 2
	$(BIN)/python benchmarks/bench_scans.py --model $$(ls -td runs/demo-*/ | head -1)
	$(BIN)/python benchmarks/bench_photos.py --model $$(ls -td runs/demo-*/ | head -1)
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_server.py --model $$(ls -td runs/demo-*/ | head -1)
	$(BIN)/python benchmarks/bench_predict_stream.py --model $$(ls -td runs/demo-*/ | head -1)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
