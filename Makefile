# Two commands for a fresh clone (see README):
#   make book   build the HTML book into _build/html (executes the notebooks)
#   make test   unit tests, lint, strict nbval over every chapter, strict build
# Both create .venv on first use and reinstall when the requirements change:
# `make book` and `make lab` install the reader's packages (requirements.txt),
# `make test` adds the contributor's (requirements-dev.txt).

# The Python that creates .venv: the first of python3, python3.11, python3.12,
# python3.13, python on PATH that is a 3.11-3.13. Choose another with
#   make book PYTHON=python3.12      (or a path; .venv is rebuilt to match)
PY_OK := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
ifndef PYTHON
PYTHON := $(shell for p in python3 python3.11 python3.12 python3.13 python; do \
  $$p -c '$(PY_OK)' 2>/dev/null && { echo $$p; break; }; done)
endif
VENV   := .venv
BIN    := $(VENV)/bin
version_of = $(shell $(1) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
PYTHON_VERSION := $(call version_of,$(PYTHON))
VENV_VERSION   := $(call version_of,$(BIN)/python)

# PYTHON given on the command line and .venv made by another Python X.Y:
# rebuild .venv with the one asked for.
ifeq ($(origin PYTHON),command line)
ifneq ($(VENV_VERSION),)
ifneq ($(basename $(VENV_VERSION)),$(basename $(PYTHON_VERSION)))
REBUILD_VENV := yes
endif
endif
endif

# Say which Python every command uses.
ifneq ($(filter-out help clean,$(or $(MAKECMDGOALS),help)),)
ifneq ($(and $(VENV_VERSION),$(if $(REBUILD_VENV),,yes)),)
$(info Python $(VENV_VERSION) in $(VENV) (made from $(shell sed -n 's/^home = //p' $(VENV)/pyvenv.cfg)))
else ifneq ($(shell $(PYTHON) -c '$(PY_OK)' 2>/dev/null && echo ok),)
$(info Python $(PYTHON_VERSION) ($(PYTHON)) will make $(VENV)$(if $(REBUILD_VENV), (replacing its Python $(VENV_VERSION))))
else ifneq ($(PYTHON_VERSION),)
$(info $(PYTHON) is Python $(PYTHON_VERSION); the book needs 3.11-3.13: make PYTHON=...)
else
$(info No Python 3.11-3.13 found$(if $(PYTHON), ($(PYTHON) does not run)): see README, or make PYTHON=...)
endif
endif

# The two installs. READER: the notebooks, the book, JupyterLab. STAMP (the
# contributor's): adds the test and lint tools.
READER := $(VENV)/.installed-reader
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --disable-pip-version-check
# Present while an install runs: a .venv that still has it is half-made (pip
# failed or was interrupted), and the next make starts it afresh.
UNFINISHED := $(VENV)/.unfinished
# On Linux, torch comes from PyTorch's CPU wheel index, and alone: that index
# is consulted for torch only (PyPI's Linux wheel is the CUDA build). A torch
# pip can install without any index (already installed, or a local wheel
# directory in pip's configuration) is used as is.
TORCH     := $(shell sed -n 's/^\(torch==[^ #]*\).*/\1/p' requirements.txt)
CPU_INDEX := https://download.pytorch.org/whl/cpu
# What a reader is told when no CPU build of torch can be installed.
GOAL := $(or $(filter book lab test,$(MAKECMDGOALS)),book)
NO_TORCH := echo; \
  echo "Could not install $(TORCH), PyTorch's CPU build, for $$($(BIN)/python -V):"; \
  echo "pip has no local wheel of it, and $(CPU_INDEX) served none"; \
  echo "(the index is unreachable, or has no CPU build for this Python)."; \
  echo "$(VENV) is removed, so that no half-made environment is reused. What to do:"; \
  echo "  - check that $(CPU_INDEX) is reachable (network, proxy) and run make $(GOAL) again;"; \
  echo "  - or use another Python 3.11-3.13: make $(GOAL) PYTHON=python3.11;"; \
  echo "  - or accept PyPI's torch (the CUDA build, about 2.7 GB):"; \
  echo "    make $(GOAL) CPU_INDEX=https://pypi.org/simple"
NOTEBOOKS := $(wildcard chapters/*.ipynb)
# The same notebooks, longest first, so that two nbval workers finish together
# (chapter 7 alone takes about a third of the time).
SLOW_FIRST := $(wildcard chapters/07_*.ipynb chapters/08_*.ipynb chapters/10_*.ipynb)
NBVAL_ORDER := $(SLOW_FIRST) $(filter-out $(SLOW_FIRST),$(NOTEBOOKS))

.PHONY: book test lint unit checks test-chapter nbval nbval-other-cpu build-check pdf handout builds browser lab notebooks reader-run bench outputs clean help FORCE

help:
	@echo "make book   build the book into _build/html (first run also builds .venv)"
	@echo "make test   lint + unit tests + checks + strict nbval + strict build + browser tests"
	@echo "make test-chapter N=7  one chapter's unit tests and strict nbval"
	@echo "make pdf    the whole book as one PDF: _build/pdf/book.pdf (needs Chromium)"
	@echo "make handout  the book without exercise solutions: _build/handout/html"
	@echo "make lab    open the reader notebooks (notebooks/) in JupyterLab"
	@echo "make notebooks [REF=vX.Y.Z]  regenerate notebooks/ and notebooks/student/ from chapters/"
	@echo "make reader-run  run every reader notebook without myst-nb, as on Colab"
	@echo "make bench  NumPy vs PyTorch timing table of the from-scratch convolutions"
	@echo "make outputs [NB=chapters/X.ipynb]  re-run notebooks and store their outputs"
	@echo "make clean  remove _build and caches (keeps .venv)"
	@echo "Python: any 3.11-3.13 on PATH, or make book PYTHON=python3.12"

$(READER): requirements.txt pyproject.toml $(if $(REBUILD_VENV),FORCE)
	@if [ -n "$(REBUILD_VENV)" ]; then \
	  echo "$(VENV) has Python $(VENV_VERSION); rebuilding it with $(PYTHON) ($(PYTHON_VERSION))"; \
	  rm -rf $(VENV); fi
	@if [ -e $(UNFINISHED) ]; then \
	  echo "$(VENV) is left from an install that did not finish: making it afresh"; \
	  rm -rf $(VENV); fi
	@test -x $(BIN)/python || { \
	  $(PYTHON) -c '$(PY_OK)' 2>/dev/null || { \
	    echo "No Python 3.11-3.13 found (PYTHON=$(PYTHON), version $(or $(PYTHON_VERSION),unknown))."; \
	    echo "Install one, or name it: make $(or $(MAKECMDGOALS),book) PYTHON=/path/to/python3.12"; \
	    exit 1; }; \
	  echo "Creating $(VENV) with $(PYTHON) (Python $(PYTHON_VERSION))"; \
	  $(PYTHON) -m venv $(VENV); }
	@touch $(UNFINISHED)
	@echo "Installing the reader's packages into $(VENV) (first time: 0.4 GB to download, 1.6 GB on disk)"
ifeq ($(shell uname -s),Linux)
	@echo "torch alone, CPU build: a local wheel if pip has one, else $(CPU_INDEX)"
	$(PIP) -q --no-deps --no-index $(TORCH) 2>/dev/null || \
	  $(PIP) --no-deps --index-url $(CPU_INDEX) $(TORCH) || \
	  { $(NO_TORCH); rm -rf $(VENV); exit 1; }
endif
	$(PIP) -r requirements.txt
	$(PIP) -q --no-deps -e .
	@rm -f $(UNFINISHED)
	touch $@

$(STAMP): requirements-dev.txt $(READER)
	@echo "Installing the contributor's test and lint tools into $(VENV)"
	$(PIP) -r requirements-dev.txt
	touch $@

book: $(READER)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html in a browser."

test: lint unit checks nbval nbval-other-cpu reader-run builds browser

lint: $(STAMP)
	$(BIN)/ruff check helpers tests $(NOTEBOOKS)

# The unit tests mirror the package's layers: tests/core, tests/lab, tests/book.
unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 2 tests/core tests/lab tests/book

# The book's and the set-up's own checks (chapters' structure, configuration,
# the install recipes, Colab), apart from the unit tests; no browser.
checks: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 2 -m "not browser" tests/site tests/setup

# One chapter alone: its unit tests (marker chN, see tests/conftest.py) and
# strict nbval of its notebook. make test-chapter N=7
test-chapter: $(STAMP)
	@test -n "$(N)" || { echo "Name the chapter: make test-chapter N=7"; exit 2; }
	$(BIN)/pytest -q -p no:cacheprovider -n 2 -m ch$(N) tests/core tests/lab tests/book
	$(BIN)/pytest -q -p no:cacheprovider --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(wildcard chapters/$(shell printf %02d $(N))_*.ipynb)

# Strict nbval: every notebook runs in a fresh kernel and its outputs must
# equal the committed ones (only cells tagged nbval-ignore-output are exempt).
# Two notebooks at a time (pytest-xdist); --dist loadfile keeps each notebook's
# cells together in one kernel.
nbval: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile \
	  --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(NBVAL_ORDER)

# The same strict nbval again, as if on another processor: PyTorch's portable
# kernels instead of its vectorised ones, MKL's reproducible code path and
# oneDNN capped at AVX2. It proves the committed outputs do not depend on the
# CPU that recorded them.
OTHER_CPU := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE DNNL_MAX_CPU_ISA=AVX2
nbval-other-cpu: $(STAMP)
	$(OTHER_CPU) $(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile \
	  --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(NBVAL_ORDER)

# Re-run notebooks top to bottom in a fresh kernel and store their outputs
# (all chapters, or one: make outputs NB=chapters/07_overfitting_experiment.ipynb).
NB ?= $(NOTEBOOKS)
outputs: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.record_timing=False $(NB)

# The strict build renders the committed outputs (nbval has just proved they
# are current), so CI does not execute every notebook twice. Each build below
# writes its own config (execution off) and its own output folder, so they can
# run at the same time.
OFF := sed 's/^  execute_notebooks: cache/  execute_notebooks: "off"/' _config.yml
JB  := $(BIN)/jupyter-book build . -W -n --keep-going
build-check: $(STAMP)
	rm -rf _build/html
	$(OFF) > _config.test.yml
	$(JB) --config _config.test.yml
	rm -f _config.test.yml

# One PDF of the whole book for offline reading and printing: the single-page
# build, printed by headless Chromium once MathJax has typeset every formula.
# Renders the committed outputs. Needs Chromium (CHROMIUM_PATH, default
# /usr/bin/chromium) and Playwright (the contributor's install).
pdf: $(STAMP)
	$(OFF) > _config.pdf.yml
	$(JB) --config _config.pdf.yml --builder singlehtml --path-output _build/pdf
	rm -f _config.pdf.yml
	$(BIN)/python _ext/print_pdf.py _build/pdf/_build/singlehtml _build/pdf/book.pdf

# The student handout: the site with every exercise solution removed
# (sphinx-exercise's hide_solutions), in _build/handout/html.
handout: $(READER)
	$(OFF) | sed 's/^    hide_solutions: false/    hide_solutions: true/' > _config.handout.yml
	$(JB) --config _config.handout.yml --path-output _build/handout
	rm -f _config.handout.yml
	rm -rf _build/handout/html && mv _build/handout/_build/html _build/handout/html
	@echo "Open _build/handout/html/index.html; publish or zip that folder for students."

# make test's three builds, two at a time (each is mostly one core).
builds: $(STAMP)
	$(MAKE) --no-print-directory -j2 build-check pdf handout

# The built site, PDF and handout: static checks and headless Chromium.
# One pytest run per suite that drives its own browser: two Playwright
# sessions cannot share one worker process.
browser: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadgroup -m browser tests/site/test_browser.py
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadgroup -m browser tests/site/test_site.py
	$(BIN)/pytest -q -p no:cacheprovider -n 2 -m browser tests/site/test_explorers.py
	$(BIN)/pytest -q -p no:cacheprovider -n 2 -m browser tests/site/test_reader_lab.py

lab: $(READER)
	$(BIN)/jupyter lab notebooks/

# The reader notebooks (notebooks/, notebooks/student/) from the chapters: what
# JupyterLab, Colab and Binder open. Colab's first cell installs helpers from
# REF (main; a release regenerates with its own tag: make notebooks REF=vX.Y.Z).
REF ?= main
notebooks: $(READER)
	$(BIN)/python _ext/reader_notebooks.py --ref $(REF)

# Every reader notebook, top to bottom, in a kernel where myst-nb cannot be
# imported (as on Colab); lists each notebook's time.
reader-run: $(STAMP)
	READER_RUN=1 $(BIN)/pytest -q -p no:cacheprovider -n 2 --durations=0 \
	  tests/setup/test_reader_notebooks.py -k runs_top_to_bottom

bench: $(READER)
	$(BIN)/python -m helpers.lab.bench

FORCE:

clean:
	rm -rf _build .pytest_cache .hypothesis .ruff_cache _config.test.yml _config.pdf.yml _config.handout.yml

# Chapter 7's over-fitting study: trains every run (float64, two processes) and
# writes helpers/lab/data/overfitting_study.json, which the chapter reads.
.PHONY: study
study: $(READER)
	$(BIN)/python -m helpers.lab.overfitting_study --jobs 2

# The measurements chapters 6, 8 and 10 publish, taken under guards and written
# to helpers/lab/data (at least 6 minutes on 2 cores; run on a quiet machine).
# make measure ARGS="--quick" checks the harness in a minute without writing there.
.PHONY: measure
measure: $(READER)
	$(BIN)/python -m helpers.lab.measure $(ARGS)
