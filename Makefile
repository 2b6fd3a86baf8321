# The course's two commands: `make book` (set up and build the book) and `make test`
# (everything CI checks); `make check` is the quick loop while you work. See README.md and
# CONTRIBUTING.md ("Tests: the quick loop and the full one").

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JB_FLAGS := -n -W --keep-going
# pytest on two workers per core, at most 8 (pytest-xdist; each test module stays on one
# worker, tests/conftest.py). The tests wait on kernels, sandboxes, servers and browsers: with
# one worker per core the CPU was idle a sixth of the run, with two it is busy throughout
# (`make test WORKERS=2` to choose).
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( 2 * n < 8 ? 2 * n : 8 )))
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope
# pytest for `make test`: any skipped test fails the run (scripts/pytest_no_skips.py); the
# slowest tests are listed, to keep `make test` short.
PYTEST_ALL := $(PYTEST) -p scripts.pytest_no_skips --durations=20
# The quick loop: no built book, no grading catalogues (markers in pyproject.toml).
FAST_TESTS := not book and not slow
LOCK_VENV := $(VENV)/lock-tools

.PHONY: book test check venv lock prereqs build exercises lint pytest pytest-fast bench \
	bench-build bench-book bench-loops bench-grading bench-term bench-cluster formgrader clean

book: venv build

# The environment is requirements.lock (every package pinned, with hashes), which
# `make lock` generates from requirements.txt. pip comes first, from the lock too.
$(BIN)/python: requirements.txt requirements.lock pyproject.toml
	@$(PYTHON) scripts/lockfile.py check
	$(PYTHON) -m venv $(VENV)
	@$(PYTHON) scripts/lockfile.py extract pip > $(VENV)/pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(VENV)/pip.lock
	@if $(PYTHON) scripts/lockfile.py supported; then \
	  echo "$(BIN)/pip install --quiet --require-hashes -r requirements.lock"; \
	  $(BIN)/pip install --quiet --require-hashes -r requirements.lock || { \
	    echo "error: pip could not install requirements.lock (above). If it found no" \
	      "torch==2.13.0+cpu, give pip PyTorch's CPU wheel and run make again:" \
	      "PIP_FIND_LINKS=<folder with the wheel> or" \
	      "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu." >&2; exit 1; }; \
	else \
	  echo "$(BIN)/pip install --quiet -r requirements.txt"; \
	  $(BIN)/pip install --quiet -r requirements.txt; \
	fi
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	# The learner's JupyterLab: chapters open as notebooks, Validate only (rnncourse/lab.py;
	# `make formgrader` turns the instructor's tools on).
	$(BIN)/python -m rnncourse.lab setup
	touch $(BIN)/python

venv: $(BIN)/python

# Regenerate requirements.lock from requirements.txt (after changing requirements.txt):
# pip-compile (scripts/lock-tools.txt) in a venv of its own; a few minutes, needs PyPI and
# PyTorch's CPU wheel (on the course's machines pip's configuration finds it on disk).
# Existing pins are kept where requirements.txt allows; LOCK_FLAGS=--upgrade renews all.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/pip install --quiet -r scripts/lock-tools.txt; }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
	  --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url \
	  $(LOCK_FLAGS) --output-file requirements.lock requirements.txt
	$(PYTHON) scripts/lockfile.py check

# The system packages `make test` needs (bubblewrap, Chromium): installed if missing.
prereqs:
	@bash scripts/prereqs.sh

# Pages execute in parallel (rnncourse.book_execution) into the execution cache, then
# Sphinx renders; only new or changed pages execute again.
build: venv
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "The book: $(CURDIR)/_build/html/index.html"

exercises: venv
	$(BIN)/python -m autograder release

lint: venv
	$(BIN)/ruff check .

# The quick loop: lint and the fast tests (no book build, no grading catalogues).
check: lint pytest-fast

pytest-fast: venv
	$(PYTEST) -m "$(FAST_TESTS)"

# Every test (after `make build` or `make bench`, which build the book).
pytest: venv
	$(PYTEST_ALL)

# A cold book build (and its timings), then the scoring of each solution notebook.
bench: venv
	$(BIN)/python benchmarks/bench_build_and_grade.py

# The cold book build of `make test`, with its timings (the solutions are scored by pytest).
bench-build: venv
	$(BIN)/python benchmarks/bench_build_and_grade.py --no-score

# Cold build, rebuild with nothing changed, rebuild after a change to one page, and each
# page's execution time.
bench-book: venv
	$(BIN)/python benchmarks/bench_book.py

# Wall times of `make check` and `make test` (the latter takes as long as it takes).
bench-loops: venv
	$(BIN)/python benchmarks/bench_book.py --loops

# Throughput of `python -m autograder grade --jobs` against plain serial nbgrader autograde.
bench-grading: venv
	$(BIN)/python benchmarks/bench_grading.py

# A class's term on this machine: collect, grade, feedback, export and report of 60 learners.
bench-term: venv
	$(BIN)/python benchmarks/bench_term.py

# Grading on a Dask cluster of this machine (1 and 2 workers), the gradebook's write rate on
# PostgreSQL and SQLite, and the projected wall time of 10,000 submissions on 50 workers.
bench-cluster: venv
	$(BIN)/python benchmarks/bench_cluster.py

# Manual grading: JupyterLab with nbgrader's formgrader (menu Nbgrader > Formgrader). nbgrader
# runs `alembic` from PATH, hence the venv's bin folder first.
formgrader: venv
	$(BIN)/python -m rnncourse.lab setup --instructor
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --no-browser --ServerApp.root_dir="$(CURDIR)"

# Everything CI checks: the book is built as `make build` does (after `make book`, only what
# changed executes; a change to rnncourse/ or the lock executes every page, and CI's fresh
# clone builds cold), then pytest reads the built pages. The timings are benchmarks, not
# checks: `make bench-book` (cold, warm and one-page builds), `make bench-loops`,
# `make bench-grading` (the grading catalogues in pytest check grading itself).
test: prereqs venv lint build pytest

clean:
	rm -rf _build grading
