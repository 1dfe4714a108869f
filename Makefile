# Todo Chat — `make` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Installs are reproducible: pip installs exactly the versions (and hashes) of the lock files,
# which `make lock` writes from uv.lock (see "Dependencies" in the README).
RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/dev.txt

.DEFAULT_GOAL := help
.PHONY: help install install-runtime run migrate test lint typecheck format bench bench-slow-model load retention lock lock-check clean

help: ## list the targets
	@echo "Todo Chat — make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A dependency added to pyproject.toml but not yet locked would be missing: say so.
CHECK_LOCK_IN_STEP := $(BIN)/python -m pip check > /dev/null || { $(BIN)/python -m pip check; \
	echo "the lock files are behind pyproject.toml: run \`make lock\`"; exit 1; }

# Reinstall only when the locked dependencies change. The project itself goes in editable and
# without dependencies: the lock file brought them all.
$(VENV)/.installed-runtime: $(RUNTIME_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(CHECK_LOCK_IN_STEP)
	@touch $@

$(VENV)/.installed-dev: $(DEV_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(CHECK_LOCK_IN_STEP)
	@touch $@

install-runtime: $(VENV)/.installed-runtime ## create .venv if missing; install what serving needs

install: $(VENV)/.installed-dev ## create .venv if missing; install the project with its dev tools

migrate: install-runtime ## apply the migrations to DATABASE_URL (default ./data/todo.db)
	$(BIN)/alembic upgrade head

run: migrate ## serve on HOST:PORT, 127.0.0.1:8000 by default (SQLite, built-in agent, dev auth)
	$(BIN)/python -m uvicorn backend.app.main:app --host $(HOST) --port $(PORT)

test: install ## run the suite (SQLite; TEST_DATABASE_URL=postgresql://... for PostgreSQL; PYTEST_ARGS="tests/tasks -x" for part)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install ## ruff check, and whether ruff format would change anything (`make format` does)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy --strict on backend/app ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

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

UV_EXPORT := $(BIN)/uv export --frozen --no-emit-project --no-header --quiet

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv>=0.9,<1"  # the range of pyproject.toml's dev extra

lock: $(BIN)/uv ## after changing dependencies in pyproject.toml: update uv.lock and requirements/
	@# A uv.lock that no longer parses (a merge conflict) is resolved afresh.
	$(BIN)/uv lock $(if $(UPGRADE),--upgrade) || { rm -f uv.lock && $(BIN)/uv lock; }
	$(UV_EXPORT) --output-file $(RUNTIME_LOCK)
	$(UV_EXPORT) --extra dev --output-file $(DEV_LOCK)

lock-check: $(BIN)/uv ## fail when uv.lock or requirements/ are behind pyproject.toml (CI runs it)
	$(BIN)/uv lock --check
	$(UV_EXPORT) | diff -u $(RUNTIME_LOCK) -
	$(UV_EXPORT) --extra dev | diff -u $(DEV_LOCK) -

clean: ## remove the venv, caches and the local SQLite database
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache data
