# coopfed — the two commands a fresh machine needs: `make demo` and `make test`.
# Everything else (uv, the virtual environment, compiled translations) is set up on the way.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: all install translations test pytest lint typecheck demo bench soak clean fedify-peer label-vectors

all: test

# uv from PyPI if missing, then the locked environment (.venv) from uv.lock.
install: .venv/.installed
.venv/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-groups
	@touch $@

translations: install
	@$(UV) run --frozen pybabel -q compile -f -d node/translations

lint: install
	$(UV) run --frozen ruff check node federation profiles matchmaking tests bench
	$(UV) run --frozen ruff format --check node federation profiles matchmaking tests bench
	$(UV) run --frozen lint-imports

typecheck: install
	$(UV) run --frozen mypy

pytest: install translations
	$(UV) run --frozen pytest -n 2 $(PYTEST_ARGS)

# The whole suite: lint, layer contracts, types, tests (SQLite; PostgreSQL when
# COOPFED_TEST_DATABASE_URL is set; browser tests when Chromium is installed).
test: lint typecheck pytest

# The Fedify test peer of tests/interop (Node.js + npm): exactly its package-lock.json. The
# interop tests run this themselves on first use; CI runs it up front.
fedify-peer:
	cd tests/interop/fedify && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	@touch tests/interop/fedify/node_modules/.coopfed-installed

# A small federation of coop nodes on loopback with realistic members and calls.
demo: install translations
	$(UV) run --frozen coopfed demo

bench: install
	$(UV) run --frozen python bench/run_all.py

# Ten minutes of mixed load on the production setup on loopback (its own PostgreSQL cluster,
# gunicorn, 2 workers, nginx TLS; needs root, nginx, PostgreSQL) with every fault, incl. a
# database restart; checks nothing was lost or sent twice. Report: bench/results/soak-*.md.
soak: install translations
	$(UV) run --frozen python bench/soak.py --seconds 600 --restart-postgres

# After editing profiles/data/vocabulary.json: the text vectors of its labels (a few minutes on
# one core; tests/profiles/test_text_model.py fails until they are rebuilt).
label-vectors: install
	$(UV) run --frozen python -m profiles.text_model

clean:
	rm -rf .venv demo-data .pytest_cache .mypy_cache .ruff_cache tests/interop/fedify/node_modules
