# Two commands: `make run` (set up, then tune the bundled data set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JOB ?= conf/examples/diamonds_grid.yaml
# The compatibility environment: pyspark 3.5 installed first (as a cluster has it), then
# sparktune's extras at the lowest versions it declares (requirements/lowest.txt).
COMPAT ?= .venv-compat
CPY := $(COMPAT)/bin/python
# ... on the lowest Python the package declares (requires-python), where this machine has
# one (pyenv's python3.10 here); else on $(PYTHON).
COMPAT_PYTHON ?= $(firstword $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10; \
	do $$p -c '' 2>/dev/null && echo $$p && break; done) $(PYTHON))
# The core install alone on that pyspark: what `pip install sparktune` gives on a cluster.
CORE ?= .venv-core
LOWEST := requirements/lowest.txt
# The files that hold the compatibility suite (its tests are marked `compat`).
COMPAT_TESTS := tests/test_dropins.py tests/test_install.py tests/test_compat.py \
	tests/test_tune.py tests/test_local.py tests/test_tracking.py tests/test_resume.py

.PHONY: run test lint bench bench-racing bench-large bench-functions

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev]'
	touch $@

$(COMPAT)/.installed: pyproject.toml $(LOWEST)
	rm -rf $(COMPAT)
	$(COMPAT_PYTHON) -m venv $(COMPAT)
	$(CPY) -m pip install --quiet --upgrade pip
	$(CPY) -m pip install --quiet -c $(LOWEST) pyspark pyarrow
	$(CPY) -m pip install --quiet -c $(LOWEST) -e '.[mlflow,xgboost,optuna,sklearn,plots,dev]'
	touch $@

$(CORE)/.installed: pyproject.toml $(LOWEST)
	rm -rf $(CORE)
	$(PYTHON) -m venv $(CORE)
	$(CORE)/bin/python -m pip install --quiet --upgrade pip
	$(CORE)/bin/python -m pip install --quiet -c $(LOWEST) pyspark pyarrow
	$(CORE)/bin/python -m pip install --quiet -c $(LOWEST) -e . pytest
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/sparktune run $(JOB)

# The Spark Connect tests run in a second pytest process (a Connect session switches
# pyspark.ml to Connect for the whole process); exit status 5 (nothing collected) passes.
# Then the compatibility suite (tests marked `compat`) on pyspark 3.5 and the lowest
# versions, and the core install's own tests.
test: $(VENV)/.installed $(COMPAT)/.installed $(CORE)/.installed
	$(PY) -m ruff check sparktune tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest
	$(PY) -m pytest tests/connect || [ $$? -eq 5 ]
	$(CPY) -m pytest -m compat $(COMPAT_TESTS)
	$(CORE)/bin/python -m pytest tests/core_only

bench: $(VENV)/.installed
	$(PY) -m bench

# Not part of `bench`: diamonds x16 and x64 from parquet at driver memory 1g and 4g (issue
# 26); a pyspark run at x64 takes many minutes. SCALES=16 runs the x16 cells only.
SCALES ?= 16 64
bench-large: $(VENV)/.installed
	$(PY) -m bench.bench_large --scales $(SCALES)

bench-racing: $(VENV)/.installed
	$(PY) -m bench racing

# Issue 22: a training function tuned by sparktune, MlflowSparkStudy and hyperopt SparkTrials.
bench-functions: $(VENV)/.installed
	$(PY) -m bench functions
