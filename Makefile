# Two commands: `make run` (embedded Pawprint) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint chromium eval bench

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	PORT=$(PORT) $(BIN)/python -m controlplane.embedded

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

# Tests keep their own var/ (SQLite file, broker folder) so they never touch `make run`'s data.
test: $(BIN)/.installed chromium lint
	rm -rf var/test
	PAWPRINT_VAR_DIR=$(CURDIR)/var/test $(BIN)/pytest $(PYTEST_ARGS)

# Model-build speed and memory on a synthetic 200-endpoint API (see bench/RESULTS.md); a few minutes on 2 cores.
# BENCH_ARGS='--witnesses 50000 --stored 20000 --rss-witnesses 200000' for a quick run; DATABASE_URL picks the database.
# Inference accuracy on ../shared/eval (real third-party traffic) beside har-to-openapi (npm ci in bench/har-to-openapi);
# EVAL_ARGS='--no-baseline' skips har-to-openapi. Latest table: bench/RESULTS.md.
eval: $(BIN)/.installed
	$(BIN)/python -m apimodel.eval $(EVAL_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench.build_throughput $(BENCH_ARGS)
