# Accord: `make run` opens the dashboard on demo data; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT ?= 8501

.PHONY: run test lint format bench bench-quick screenshots clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: set up (first time), load the demo company if the database is empty, serve the dashboard
run: $(STAMP)
	$(PY) cli.py db upgrade
	$(PY) cli.py demo --if-empty
	@echo "Accord is starting: open http://localhost:$(PORT) (Ctrl+C stops it)"
	$(PY) -m streamlit run app.py --server.port $(PORT)

## test: the whole suite (PostgreSQL and browser tests skip locally unless configured; CI forces them)
test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: every benchmark under bench/ (minutes; prints `name: value` lines)
bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## screenshots: the README's page screenshots, from the demo company in var/accord.db (run `make run` once first)
screenshots: $(STAMP)
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .ruff_cache .hypothesis
