# Two entry points: `make demo` (run the workflow on the embedded sample) and `make test` (the whole suite).
# Both set up everything they need: Debian tools, a .venv with pinned packages, the sciclip package.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test test-fast sysdeps venv clean lint bench report

sysdeps:
	@bash .ci/sysdeps.sh

$(BIN)/.installed: requirements.txt requirements-test.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

venv: $(BIN)/.installed

demo: sysdeps venv
	$(BIN)/snakemake --cores $(CORES)
	@$(BIN)/snakemake --report results/report.html --quiet all >results/logs/report.log 2>&1 \
		|| { cat results/logs/report.log; exit 1; }
	@$(BIN)/sciclip demo-summary results

test: sysdeps venv
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -n $(CORES) --dist loadgroup --timeout 900

test-fast: sysdeps venv
	$(BIN)/python -m pytest -n $(CORES) --dist loadgroup -m "not slow"

bench: sysdeps venv
	$(BIN)/python bench/extract_throughput.py
	$(BIN)/python bench/pmc_throughput.py
	$(BIN)/python bench/reshard_throughput.py $(if $(DATACOMP_RESHARDER),--resharder $(DATACOMP_RESHARDER) --resharder-python $(DATACOMP_PYTHON))
	$(BIN)/python bench/embed_throughput.py
	$(BIN)/python bench/pipeline_scale.py
	$(BIN)/python bench/tail_scale.py --samples 200000 2000000
	$(BIN)/python bench/dryrun_fullscale.py
	$(BIN)/python bench/cc_throughput.py
	$(BIN)/python bench/eval_throughput.py

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake resources/sample

# The HTML report of the results already there (no job runs: the demo's are not recomputed over yours). With
# your own config: make report ARGS="--configfile config/config.yaml my.yaml"
report: venv
	$(BIN)/snakemake --report results/report.html $(ARGS)
	@echo "report: results/report.html"
