VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DB ?= ./jobq.db
# `make run HOST=... PORT=...`; set with `=`, not `?=`, so a shell's own HOST (the machine's
# name, in tcsh) or PORT in the environment does not change where jobq listens
HOST = 127.0.0.1
PORT = 8080

.PHONY: run test lint typecheck unit venv dev clean bench reliability

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev-installed

# make run HOST=0.0.0.0 PORT=9000 DB=/var/lib/jobq.db; the `jobq` command is .venv/bin/jobq
run: $(VENV)/.installed
	@echo "jobq: dashboard at http://$(HOST):$(PORT)/ui, API docs at /docs (native API under /api/v1)"
	$(VENV)/bin/jobq serve --db sqlite:///$(DB) --host $(HOST) --port $(PORT)

lint: dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: dev
	$(VENV)/bin/mypy

# The in-process tiers (unit, integration) run under coverage, with a floor; the tiers that
# drive subprocesses and a browser (acceptance, browser, reliability) run after, without it:
# their servers are other processes, and coverage would only slow them down. Unit and
# integration cover 92% of jobq's statements; the floor sits a little below and never goes lower.
COVERAGE_FLOOR ?= 91

test: dev lint typecheck
	$(VENV)/bin/pytest -q --cov=jobq --cov-report=term:skip-covered \
		--cov-fail-under=$(COVERAGE_FLOOR) tests/unit tests/integration
	$(VENV)/bin/pytest -q --ignore=tests/unit --ignore=tests/integration

# crashes, faults, fuzzing, hostile input, soak at full size (tens of minutes); `make test`
# runs the short version of each. Figures go to reliability/results.json and RESULTS.md.
reliability: dev
	rm -f reliability/results.json
	JOBQ_RELIABILITY=full JOBQ_RELIABILITY_RESULTS=reliability/results.json \
		$(VENV)/bin/pytest -q -s -m reliability -p no:cacheprovider --timeout 3600 tests/reliability
	$(PY) -m tests.reliability.report reliability/results.json reliability/RESULTS.md

unit: dev
	$(VENV)/bin/pytest -q tests/unit

$(VENV)/.bench-installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q -e '.[dev,bench]'
	touch $(VENV)/.installed $@

# Benchmarks (not part of `make test`): needs Redis at 127.0.0.1:6379 and PostgreSQL at
# 127.0.0.1:5432; BENCH_ARGS="--scale quick" for a shorter run. Results in bench/results/.
bench: $(VENV)/.bench-installed
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
