# zodbtasks: `make run` runs the main job, `make test` the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

.PHONY: run test bench venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.py
	$(BIN)/python -m pip install -q -e '.[test,app]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/python -m zodbtasks.demo var

test: venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) var .pytest_cache
