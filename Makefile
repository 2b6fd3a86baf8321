# The course's two commands: `make book` (set up and build the book) and `make test`
# (everything CI checks). See README.md.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JB_FLAGS := -n -W --keep-going

.PHONY: book test venv build exercises lint pytest bench bench-grading formgrader clean

book: venv build

$(BIN)/python: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(BIN)/python

venv: $(BIN)/python

build: venv
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "The book: $(CURDIR)/_build/html/index.html"

exercises: venv
	$(BIN)/python -m autograder release

lint: venv
	$(BIN)/ruff check .

pytest: venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python benchmarks/bench_build_and_grade.py

# Throughput of `python -m autograder grade --jobs` against plain serial nbgrader autograde.
bench-grading: venv
	$(BIN)/python benchmarks/bench_grading.py

# Manual grading: JupyterLab with nbgrader's formgrader (menu Nbgrader > Formgrader). nbgrader
# runs `alembic` from PATH, hence the venv's bin folder first.
formgrader: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --no-browser --ServerApp.root_dir="$(CURDIR)"

# `bench` does the cold book build (and times it) before pytest reads the built pages;
# `bench-grading` prints the grading throughput (40 submissions, about three minutes).
test: venv lint bench bench-grading pytest

clean:
	rm -rf _build grading
