# Todo Chat — `make` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run migrate test lint format bench bench-slow-model load retention clean

help: ## list the targets
	@echo "Todo Chat — make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed ## create .venv if missing and install the project with its dev tools

migrate: install ## apply the migrations to DATABASE_URL (default ./data/todo.db)
	$(BIN)/alembic upgrade head

run: migrate ## serve on http://127.0.0.1:8000 (SQLite, built-in agent, development auth)
	$(BIN)/python -m uvicorn backend.app.main:app --host $(HOST) --port $(PORT)

test: install ## run the whole suite (SQLite; TEST_DATABASE_URL=postgresql://... for PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install ## ruff check
	$(BIN)/ruff check .

format: install ## ruff format + import sorting
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

bench: install ## run the benchmarks (prints ratios; BENCH_DATABASE_URL for PostgreSQL)
	$(BIN)/python -m benchmarks.pages
	BENCH_SCALE=$${BENCH_SCALE:-0.1} $(BIN)/python -m benchmarks.search
	$(BIN)/python -m benchmarks.your_data
	BENCH_SCALE=$${BENCH_SCALE:-0.1} $(BIN)/python -m benchmarks.tasks

bench-slow-model: install ## bystanders' p50/p99 while 0/100/500 turns wait on a 10 s model (~3 min)
	$(BIN)/python -m benchmarks.slow_model

load: install ## the load script: a real server on 127.0.0.1, N clients, p50/p99, memory (~4 min)
	$(BIN)/python -m benchmarks.load

retention: install ## one retention pass: delete conversations idle over RETENTION_DAYS (for cron)
	$(BIN)/python -m backend.app.retention

clean: ## remove the venv, caches and the local SQLite database
	rm -rf $(VENV) .pytest_cache .ruff_cache data
