# The README's commands. `make run` serves the three sites; `make test` runs the whole suite; `make reset`
# deletes the demo data, so the next `make run` seeds it afresh; `make dist` builds the sso_client wheel.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench lint reset dist

# What running needs (requirements.txt), and sso_client installed as a customer's site installs it
# (editable; its dependencies are already pinned in requirements.txt) ...
$(VENV)/.installed-run: requirements.txt sso_client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e ./sso_client
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

# The installable relying-party package, as a wheel in dist/ (sso_client/pyproject.toml).
dist: $(VENV)/.installed-run
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist ./sso_client

# The embedded profile's databases (users, sessions, signing key, orders, stock) and mail live under var/.
reset:
	rm -rf var
