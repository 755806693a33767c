# octorec: `make demo` runs the whole pipeline on the sample data, `make test` runs the tests.
# Both create the virtual environment first when it is missing or out of date.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.octorec-installed

# Dagster's `job execute` and `asset materialize` find the code location through this variable
# (`dagster dev` reads [tool.dagster] in pyproject.toml); runs are kept in .dagster/.
export DAGSTER_MODULE_NAME := octorec.definitions
export DAGSTER_HOME := $(CURDIR)/.dagster
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system-packages demo test lint format dev serve bench clean

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

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
	grep -q DAGSTER_MODULE_NAME $(BIN)/activate || printf '\n# octorec: Dagster commands work from the repository root\nexport DAGSTER_MODULE_NAME=%s\nexport DAGSTER_HOME=%s\nexport HF_HUB_OFFLINE=1\n' \
		'$(DAGSTER_MODULE_NAME)' '$(DAGSTER_HOME)' >> $(BIN)/activate
	touch $@

demo: setup
	$(BIN)/dagster job execute -j training_data_pipeline
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

dev: setup
	$(BIN)/dagster dev

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
