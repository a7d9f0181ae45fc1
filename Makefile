# energy_nb — two commands do all set-up on a fresh machine:
#   make run    install into .venv, import the price data when the store is empty, record the
#               Models page's baseline evaluation once, start the app
#   make test   install what the tests need (incl. Debian chromium, redis-server, postgresql), run
#               every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ENB := $(VENV)/bin/energy-nb
PORT ?= 8866
OFFLINE_DATA ?= ../shared/data/eia
TEST_HOME ?= var/test-home
EVAL_START ?= 2025-01-01
PYTEST_ARGS ?=

.PHONY: run test install install-test system-deps data lab bench clean help

help:
	@echo "make run     install, import data when the store is empty, start the dashboards on :$(PORT)"
	@echo "make test    install test dependencies (chromium, redis-server too) and run all tests"
	@echo "make lab     open JupyterLab on the project"
	@echo "make bench   run every benchmark and write benchmarks/RESULTS.md"

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

data: install
	$(ENB) data init $(if $(wildcard $(OFFLINE_DATA)/wti-daily.csv),--offline-dir $(OFFLINE_DATA))
	@echo "Recording the out-of-sample evaluation the Models page compares (first run only) ..."
	-$(ENB) evaluate --commodity all --start $(EVAL_START) --horizon 30 --step 5 --models all \
	  --refit-every 5 --if-missing > /dev/null

# the live server replays the stored history when the data came from the offline folder (demo),
# and polls FRED for new prices otherwise
run: data
	$(ENB) app --port $(PORT) --feed $(if $(wildcard $(OFFLINE_DATA)/wti-daily.csv),replay,poll)

# Debian packages the browser, Redis, PostgreSQL and PDF-report tests need; installed only when
# missing (the PostgreSQL tests start their own throwaway cluster, tests/pg.py).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: install-test system-deps
	rm -rf $(TEST_HOME)
	ENERGY_NB_HOME=$(TEST_HOME) $(ENB) data init $(if $(wildcard $(OFFLINE_DATA)/wti-daily.csv),--offline-dir $(OFFLINE_DATA))
	ENERGY_NB_HOME=$(abspath $(TEST_HOME)) $(PY) -m pytest --nbval-lax -p no:cacheprovider tests notebooks $(PYTEST_ARGS)

lab: data
	$(VENV)/bin/jupyter lab notebooks/

bench: install-test
	$(PIP) install --quiet -e '.[bench]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info
