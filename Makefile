# Two commands: `make run` (set up, then tune the bundled data set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JOB ?= conf/examples/diamonds_grid.yaml

.PHONY: run test lint bench bench-racing bench-functions

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/sparktune run $(JOB)

# The Spark Connect tests run in a second pytest process (a Connect session switches
# pyspark.ml to Connect for the whole process); exit status 5 (nothing collected) passes.
test: $(VENV)/.installed
	$(PY) -m ruff check sparktune tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest
	$(PY) -m pytest tests/connect || [ $$? -eq 5 ]

bench: $(VENV)/.installed
	$(PY) -m bench

bench-racing: $(VENV)/.installed
	$(PY) -m bench racing

# Issue 22: a training function tuned by sparktune, MlflowSparkStudy and hyperopt SparkTrials.
bench-functions: $(VENV)/.installed
	$(PY) -m bench functions
