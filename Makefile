# Two commands: `make run` (embedded Pawprint) and `make test` (the whole suite); `make demo` shows the agent.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint chromium eval bench demo akita-venv bench-agent bench-scale

# make run installs what Pawprint needs to run; make test adds the test, lint and type-checking tools.
$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	PORT=$(PORT) $(BIN)/python -m controlplane.embedded

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PAWPRINT_VAR_DIR=$(CURDIR)/var/test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

# The unmodified akita-django needs pydantic 1: a venv of its own, var/venvs/akita-<hash of its requirements>.
akita-venv: $(BIN)/.installed
	$(BIN)/python -m demo.akita_venv

# Control plane, agent, the demo shop with akita-django, and traffic; data under var/demo (see demo/__main__.py).
demo: $(BIN)/.installed akita-venv
	$(BIN)/python -m demo

# Tests keep their own var/ (SQLite file, broker folder) so they never touch `make run`'s data.
test: $(BIN)/.installed-dev chromium lint akita-venv
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

# The agent's intake rate and memory, and pawprint_django's added latency (see bench/RESULTS.md); a few minutes.
bench-agent: $(BIN)/.installed
	$(BIN)/python -m bench.agent_throughput
	$(BIN)/python -m bench.middleware_latency

# Fleet scale on the production-like stack (bench/stack.py: gunicorn + uvicorn, PostgreSQL, Redis), each line
# building its own fixture data; STACK_DATABASE_URL / STACK_REDIS_URL pick the servers. Figures: bench/RESULTS.md.
bench-scale: $(BIN)/.installed-dev
	$(BIN)/python -m bench.scale_fanout
	$(BIN)/python -m bench.scale_ingest
	$(BIN)/python -m bench.scale_pages
	$(BIN)/python -m bench.scale_exports
	$(BIN)/python -m bench.scale_har
