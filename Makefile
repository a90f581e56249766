# zodbtasks: `make run` runs the main job, `make test` the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# One venv for everything: zodbtasks[test,app] and Zope 6.3 + Plone 6.2.2
# (constraints/plone-6.2.in), every version pinned by the constraints file
# (docs/zope-plone-testing.rst says how it is made).
CONSTRAINTS := constraints/plone-6.2.txt
ZOPE_PLONE := constraints/plone-6.2.in
STAMP := $(VENV)/.installed-$(shell cat setup.py $(CONSTRAINTS) $(ZOPE_PLONE) \
	| cksum | cut -d' ' -f1)

.PHONY: run run-zope run-plone test test-ztk test-zope test-plone bench bench-zeo \
	bench-relstorage bench-grouping bench-ui venv system-deps constraints \
	clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.py $(CONSTRAINTS) $(ZOPE_PLONE)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[test,app]' \
	  -r $(ZOPE_PLONE)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

# `make run PORT=8090` chooses the port (on 127.0.0.1).
PORT ?= 8080
run: venv
	$(BIN)/zodbtasks-server --config var/zope.conf --port $(PORT)

# Demo instances of Zope 6 and Plone 6 with zodbtasks, each on its own
# embedded FileStorage (var/zope, var/plone), served by runwsgi on
# 127.0.0.1:$(PORT); the first run prints the logins.
run-zope: venv
	$(BIN)/python -m zodbtasks.zope.instance --dir var/zope --port $(PORT)

run-plone: venv
	$(BIN)/python -m zodbtasks.zope.instance --plone --dir var/plone \
	  --port $(PORT)

# Debian packages the browser test needs (Chromium and its driver) and
# the RelStorage tests (PostgreSQL); as root with apt-get only: elsewhere
# those tests say they are skipped.
system-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; \
	then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium chromium-driver >/dev/null \
	  || echo 'Could not install chromium: the browser test is skipped.'; \
	else \
	  echo 'Install chromium and chromium-driver for the browser test.'; \
	fi
	@# PostgreSQL for the RelStorage tests (tests/relstorage_pg), which make
	@# throwaway clusters with initdb; without it they say they are skipped.
	@if command -v initdb >/dev/null \
	  || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; \
	then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq postgresql >/dev/null \
	  || echo 'Could not install postgresql: the RelStorage tests are skipped.'; \
	else \
	  echo 'Install postgresql (initdb, pg_ctl) for the RelStorage tests.'; \
	fi

# Three pytest processes: importing Products.CMFPlone patches
# zope.traversing (`/@@/` resources of the ZTK server then give 404), and
# a Zope product is tested without Plone's patches, so the Zope Toolkit
# suite, tests/zope and tests/plone each run in a process of their own
# (setup.cfg keeps tests/zope and tests/plone out of a bare `pytest`).
# All three run; `make test` fails if any of them failed.
test: venv system-deps
	@status=0; \
	$(BIN)/python -m pytest || status=1; \
	$(BIN)/python -m pytest tests/zope || status=1; \
	$(BIN)/python -m pytest tests/plone || status=1; \
	exit $$status

test-ztk: venv system-deps
	$(BIN)/python -m pytest

test-zope: venv
	$(BIN)/python -m pytest tests/zope

test-plone: venv
	$(BIN)/python -m pytest tests/plone

# Re-pin: a fresh throwaway venv from setup.py and $(ZOPE_PLONE) without
# pins, frozen into $(CONSTRAINTS); then `make test` and commit both.
constraints:
	PYTHON=$(PYTHON) bash constraints/regenerate.sh

bench: venv
	$(BIN)/python bench/bench_core.py

# Worker processes on a real ZEO server (runzeo) on the loopback.
bench-zeo: venv
	$(BIN)/python bench/bench_zeo.py

# Worker processes on a history-free RelStorage over a throwaway
# PostgreSQL cluster (initdb, pg_ctl: make system-deps installs them).
bench-relstorage: venv
	$(BIN)/python bench/bench_relstorage.py

# Grouped execution against Huey's SQLite consumer; huey is installed for
# the benchmarks only (bench/requirements.txt), not as a package dependency.
bench-grouping: venv
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	$(BIN)/python bench/bench_grouping.py

# Every Jobs-tab view and the Overview with a million jobs (issue 10);
# `make bench-ui BENCH_UI_ARGS='--jobs 100000 --check'` passes options.
bench-ui: venv
	$(BIN)/python bench/bench_ui.py $(BENCH_UI_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
