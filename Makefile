VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DB ?= ./jobq.db

.PHONY: run test lint typecheck unit venv dev clean bench

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

run: $(VENV)/.installed
	@echo "jobq: API docs at http://127.0.0.1:8080/docs (native API under /api/v1)"
	$(VENV)/bin/jobq serve --db sqlite:///$(DB) --host 127.0.0.1 --port 8080

lint: dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: dev
	$(VENV)/bin/mypy

test: dev lint typecheck
	$(VENV)/bin/pytest -q

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
