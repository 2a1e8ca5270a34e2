# The few commands a newcomer needs. Each creates the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Analyse the demo models (Persian and English) and print what Panjereh finds.
run: install
	$(BIN)/panjereh analyze demo/

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Lint, the architecture contract and every test (the corpus tests need ../shared).
test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/analyze.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
