# octorec: `make demo` runs the whole pipeline on the sample data, `make test` runs the tests.
# Both create the virtual environment first when it is missing or out of date.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.octorec-installed

ACTIVATE := $(BIN)/activate
# `make dev` serves the Dagster UI here: make dev DAGSTER_PORT=3001 DAGSTER_HOST=0.0.0.0.
DAGSTER_HOST ?= 127.0.0.1
DAGSTER_PORT ?= 3000

# Runs are kept in .dagster/ (unless DAGSTER_HOME is set). Dagster commands find the code location
# in [tool.dagster] of pyproject.toml, or by `-m octorec.definitions`; DAGSTER_MODULE_NAME must
# not be set: `dagster dev` then never gets past "Launching Dagster services...".
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
unexport DAGSTER_MODULE_NAME

.PHONY: setup system-packages demo test lint format dev serve bench clean

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	@# Older versions of this Makefile exported DAGSTER_MODULE_NAME from the venv's activate.
	@if grep -q '^export DAGSTER_MODULE_NAME=' $(ACTIVATE) 2>/dev/null; then \
		sed -i '/^export DAGSTER_MODULE_NAME=/d' $(ACTIVATE); \
		echo "removed DAGSTER_MODULE_NAME from $(ACTIVATE) (open a new shell, or: unset DAGSTER_MODULE_NAME)"; \
	fi

# Dagster's instance (runs, event logs) for make demo, make dev and the activated venv.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on local disk; naming it first keeps pip from fetching CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --constraint requirements.lock --editable '.[dev]'
	grep -q '^# octorec: ' $(ACTIVATE) || printf '\n# octorec: runs are kept in .dagster/, the model is never downloaded\nexport DAGSTER_HOME=%s\nexport HF_HUB_OFFLINE=1\n' \
		'$(DAGSTER_HOME)' >> $(ACTIVATE)
	touch $@

# The whole pipeline as one Dagster run (recorded in .dagster/, so `make dev` shows it): a
# progress bar per stage and a summary; dbt's own lines go to the log file the summary names.
demo: setup
	$(BIN)/octorec run
	$(BIN)/octorec sample --users 3

# PostgreSQL's server binaries and headless Chromium, from Debian, when missing.
system-packages:
	.ci/system-packages

test: setup system-packages
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The Dagster UI on http://$(DAGSTER_HOST):$(DAGSTER_PORT)/ (webserver and daemon); a
# DAGSTER_MODULE_NAME left in the shell is dropped, it would hang `dagster dev`.
dev: setup
	env -u DAGSTER_MODULE_NAME $(BIN)/dagster dev -h $(DAGSTER_HOST) -p $(DAGSTER_PORT)

# The HTTP API and web page over the stored results: http://127.0.0.1:8000/ (docs at /docs).
serve: setup
	$(BIN)/octorec serve

# The quick benchmarks (a few minutes). These take longer and run on their own:
# bench/scoring_scale.py, bench/scale_out_simulation.py, bench/demo_pipeline.py,
# bench/evaluation_repeat.py and bench/quality_ablations.py.
bench: setup
	$(BIN)/python bench/github_scrape.py
	$(BIN)/python bench/warehouse_write.py
	$(BIN)/python bench/embedding_throughput.py
	$(BIN)/python bench/scoring_sample.py
	$(BIN)/python bench/api_latency.py

clean:
	rm -rf data .dagster dbt/target dbt/logs .pytest_cache .mypy_cache .ruff_cache
