# Paperboy's everyday commands. `make run` and `make test` are the README's quick start.
PY      ?= python3
VENV    ?= .venv
BIN      = $(VENV)/bin
SAMPLE   = examples/stat-2024-03-26.xml
ARGS    ?=

.PHONY: run test lint redis install

$(BIN)/paperboy: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(BIN)/paperboy

install: $(BIN)/paperboy

# The whole day in-process; when arXiv cannot be reached, the sample feed serves instead.
run: $(BIN)/paperboy
	@$(BIN)/paperboy run $(ARGS); status=$$?; \
	if [ $$status -eq 3 ]; then echo "Using the sample feed $(SAMPLE) instead."; \
	  $(BIN)/paperboy run --feed $(SAMPLE) $(ARGS); else exit $$status; fi

# Tests need a Redis on 127.0.0.1:6379 (they use database 15 and empty it).
redis:
	@redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null

test: $(BIN)/paperboy redis
	$(BIN)/python -m pytest -q

lint: $(BIN)/paperboy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
