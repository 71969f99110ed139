# Two commands for a fresh machine: `make demo` and `make test` (see README.md); `make models`
# rebuilds the shipped models, `make bench` measures.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.digitlab-installed

.PHONY: setup system-deps demo test lint bench models clean

setup: $(STAMP)

# The CPU build of torch goes in first and pinned: an unpinned torch would pull GBs of CUDA.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,heic]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

# The lab's model, trained and then used by name; the number is read by the shipped line reader.
demo: setup
	$(BIN)/digitlab data list
	$(BIN)/digitlab train --out runs/demo-$$(date +%Y%m%d-%H%M%S)
	$(BIN)/digitlab predict --model $$(ls -td runs/demo-*/ | head -1) examples/seven.jpg examples/three-lined-paper.jpg
	$(BIN)/digitlab read examples/number-2026.jpg
	@echo "Open the report: $$(ls -td runs/demo-*/ | head -1)report/report.html"

# The models shipped in the package, rebuilt from scratch with the project's own commands: the
# training faces from the npm registry (a face that cannot be fetched stops here), then the digit
# model, the line reader, the second reader (trained on from the first) and the orientation model,
# each through `digitlab train`, copied into src/digitlab/weights/ (the orientation model as its
# ONNX export: it reads without torch).
models: setup
	$(BIN)/digitlab fonts fetch
	rm -rf build/models
	$(BIN)/digitlab train --recipe reader --out build/models/digits
	$(BIN)/digitlab train --recipe lines --digit-model build/models/digits --out build/models/lines
	mkdir -p src/digitlab/weights
	cp build/models/digits/model.safetensors src/digitlab/weights/digits.safetensors
	cp build/models/lines/model.safetensors src/digitlab/weights/lines.safetensors
	$(BIN)/digitlab train --recipe second-reader --init build/models/lines --digit-model build/models/digits \
		--out build/models/second-reader
	cp build/models/second-reader/model.safetensors src/digitlab/weights/second-reader.safetensors
	$(BIN)/digitlab train --recipe orientation --out build/models/orientation
	$(BIN)/digitlab export --model build/models/orientation --onnx src/digitlab/weights/orientation.onnx
	$(BIN)/digitlab predict examples/seven.jpg
	$(BIN)/digitlab read examples/number-2026.jpg

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts

# The training faces are fetched for the tests of the training-data generators (seconds, once).
test: setup system-deps lint
	$(BIN)/digitlab fonts fetch
	$(BIN)/python -m pytest -q

# The reading benchmarks measure the shipped models on the locked half of the test faces; the
# server, memory and streaming ones the model `make demo` trained (the newest runs/demo-*).
bench: setup system-deps
	@ls -d runs/demo-*/ >/dev/null 2>&1 || { echo "make bench: no runs/demo-* yet: run 'make demo' first"; exit 2; }
	$(BIN)/digitlab fonts fetch
	$(BIN)/python benchmarks/bench_scans.py --split locked
	$(BIN)/python benchmarks/bench_reading.py --split locked
	$(BIN)/python benchmarks/bench_line_angles.py --split locked
	$(BIN)/python benchmarks/bench_photos.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_training.py --processes 1 2
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_server.py --model $$(ls -td runs/demo-*/ | head -1)
	$(BIN)/python benchmarks/bench_memory.py --model $$(ls -td runs/demo-*/ | head -1)
	$(BIN)/python benchmarks/bench_predict_stream.py --model $$(ls -td runs/demo-*/ | head -1)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
