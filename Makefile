# RCM Pipeline. `make demo` runs the main job, `make test` runs every test.
# Both install what they need on first use (uv, Python packages, Kafka's jars, PostgreSQL).
SHELL := /bin/bash
UV ?= python3 -m uv
PY := .venv/bin/python
ENCOUNTERS ?= 200
SEED ?= 7

CHAOS_CLAIMS ?= 10000

.PHONY: chaos bench setup demo ui test test-unit test-integration lint typecheck schemas stack-up stack-down stack-status clean

setup: .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --quiet
	@touch $@

demo: setup
	$(PY) -m rcm.cli demo --encounters $(ENCOUNTERS) --seed $(SEED) --out demo-out

# The demo day, then the stack, the services and the gateway kept up with a one-time
# sign-in link for a demo biller of tenant demo-clinic (Ctrl-C stops).
ui: setup
	$(PY) -m rcm.cli demo --encounters $(ENCOUNTERS) --seed $(SEED) --out demo-out --serve

test: setup
	bash scripts/test.sh

chaos: setup
	$(PY) -m rcm.cli chaos --claims $(CHAOS_CLAIMS) --kills 20 --out chaos-out

bench: setup
	$(PY) -m rcm.cli bench --claims 30000 --out bench-out

test-unit: setup
	$(PY) -m pytest -m unit -q

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: setup
	.venv/bin/mypy schemas runtime services rcm

schemas: setup
	$(PY) -m schemas.generate

stack-up: setup
	$(PY) -m rcm.cli stack up

stack-down: setup
	$(PY) -m rcm.cli stack down

stack-status: setup
	$(PY) -m rcm.cli stack status

clean:
	rm -rf demo-out test-artifacts .pytest_cache .mypy_cache .ruff_cache
