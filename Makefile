# Everything starts from a fresh clone with only python3 installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all demo test lint pytest bench tables clean

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[codecs,net,compat,ocr,tesseract,dask,s3,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m idiscore.demo

LINTED := $(wildcard src tests tools benchmarks)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term -q

test: lint pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Regenerate the PS3.15 tables from standard-data (or STANDARD=dir).
STANDARD ?= standard-data
tables: $(STAMP)
	$(BIN)/python tools/generate_standard.py $(STANDARD) --with-iod-types
	$(BIN)/python tools/generate_standard_codes.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .coverage demo-output
