# Paperboy's everyday commands. `make run` and `make test` are the README's quick start.
PY      ?= python3
VENV    ?= .venv
BIN      = $(VENV)/bin
UV       = $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python
DEV      = $(VENV)/.dev-tools
SAMPLE   = examples/stat-2024-03-26.xml
ARGS    ?=

.PHONY: run test faults lint redis install dev lock

# What production runs: requirements.lock and Paperboy itself.
$(BIN)/paperboy: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(UV) -r requirements.lock
	$(UV) --no-deps -e .
	@touch $(BIN)/paperboy

# The dev tools (tests, linters, what the benches use) on top, from requirements-dev.lock,
# which pins the shared packages to requirements.lock's versions.
$(DEV): requirements-dev.lock $(BIN)/paperboy
	$(UV) -r requirements-dev.lock
	@touch $(DEV)

install: $(BIN)/paperboy

dev: $(DEV)

# Both locks from pyproject.toml, keeping the pinned versions that still fit; the dev lock is
# constrained by the production lock, so it is compiled second.
lock: $(BIN)/paperboy
	$(BIN)/uv pip compile --quiet pyproject.toml --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -c requirements.lock --python-version 3.11 -o requirements-dev.lock

# The whole day in-process; when arXiv cannot be reached, the sample feed serves instead.
run: $(BIN)/paperboy
	@$(BIN)/paperboy run $(ARGS); status=$$?; \
	if [ $$status -eq 3 ]; then echo "Using the sample feed $(SAMPLE) instead."; \
	  $(BIN)/paperboy run --feed $(SAMPLE) $(ARGS); else exit $$status; fi

# Tests need a Redis on 127.0.0.1:6379 (they use databases 15 down to 12, one a test process,
# and empty them).
redis:
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null

test: $(DEV) redis
	$(BIN)/python -m pytest -q

# The fault suite (faults/README.md): the real processes, killed and starved; a few minutes.
# It starts a redis-server of its own (on a free port, with AOF).
faults: $(DEV)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 0 faults

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
