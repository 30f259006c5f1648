# The README's commands. `make run` serves the three sites; `make test` runs the whole suite; `make reset`
# deletes the demo data, so the next `make run` seeds it afresh.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench lint reset

# What running needs (requirements.txt) ...
$(VENV)/.installed-run: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# ... and, for `make test` and `make bench` only, the test and benchmark tools (requirements-dev.txt).
$(VENV)/.installed-dev: $(VENV)/.installed-run requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed-run
	$(PY) scripts/devserver.py

test: $(VENV)/.installed-dev
	$(PY) scripts/run_tests.py

bench: $(VENV)/.installed-dev
	$(PY) bench/run.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

# The embedded profile's databases (users, sessions, signing key, orders, stock) and mail live under var/.
reset:
	rm -rf var
