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

# The demo: analyse the demo models (Persian and English) and print what Panjereh finds; redesign the
# housing-loan model (its paper steps become inquiries) and run the redesigned model to its end on an
# embedded SQLite database, the inquiries answered by the built-in registry simulator.
run: install
	$(BIN)/panjereh analyze demo/
	@mkdir -p build/demo
	$(BIN)/panjereh redesign demo/housing_loan_fa.bpmn -o build/demo/housing_loan_fa.once.bpmn
	$(BIN)/panjereh run build/demo/housing_loan_fa.once.bpmn --answers @demo/housing_loan_fa.answers.json --clock virtual

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
