# Two commands for a fresh clone (see README):
#   make book   build the HTML book into _build/html (executes the notebooks)
#   make test   unit tests, lint, strict nbval over every chapter, strict build
# Both create .venv on first use and reinstall when requirements change.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(wildcard chapters/*.ipynb)

.PHONY: book test lint unit nbval nbval-other-cpu build-check browser lab bench outputs clean help

help:
	@echo "make book   build the book into _build/html (first run also builds .venv)"
	@echo "make test   lint + unit tests + strict nbval + strict build + browser tests"
	@echo "make lab    open the chapters in JupyterLab"
	@echo "make bench  NumPy vs PyTorch timing table of the from-scratch convolutions"
	@echo "make outputs [NB=chapters/X.ipynb]  re-run notebooks and store their outputs"
	@echo "make clean  remove _build and caches (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html in a browser."

test: lint unit nbval nbval-other-cpu build-check browser

lint: $(STAMP)
	$(BIN)/ruff check helpers tests $(NOTEBOOKS)

unit: $(STAMP)
	$(BIN)/pytest -q -m "not browser"

# Strict nbval: every notebook runs in a fresh kernel and its outputs must
# equal the committed ones (only cells tagged nbval-ignore-output are exempt).
# Two notebooks at a time (pytest-xdist); --dist loadfile keeps each notebook's
# cells together in one kernel.
nbval: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile \
	  --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(NOTEBOOKS)

# The same strict nbval again, as if on another processor: PyTorch's portable
# kernels instead of its vectorised ones, MKL's reproducible code path and
# oneDNN capped at AVX2. It proves the committed outputs do not depend on the
# CPU that recorded them.
OTHER_CPU := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE DNNL_MAX_CPU_ISA=AVX2
nbval-other-cpu: $(STAMP)
	$(OTHER_CPU) $(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile \
	  --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg $(NOTEBOOKS)

# Re-run notebooks top to bottom in a fresh kernel and store their outputs
# (all chapters, or one: make outputs NB=chapters/07_overfitting_experiment.ipynb).
NB ?= $(NOTEBOOKS)
outputs: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.record_timing=False $(NB)

# The strict build renders the committed outputs (nbval has just proved they
# are current), so CI does not execute every notebook twice.
build-check: $(STAMP)
	sed 's/^  execute_notebooks: cache/  execute_notebooks: "off"/' _config.yml > _config.test.yml
	$(BIN)/jupyter-book build . -W -n --keep-going --config _config.test.yml
	rm -f _config.test.yml

browser: $(STAMP)
	$(BIN)/pytest -q -m browser

lab: $(STAMP)
	$(BIN)/jupyter lab chapters/

bench: $(STAMP)
	$(BIN)/python -m helpers.bench

clean:
	rm -rf _build .pytest_cache .hypothesis .ruff_cache _config.test.yml
