# make test: set up .venv (and Graphviz's dot) if missing, then run the test suite.
# make demo: the same set-up, then train the CNN on the embedded digits with the health monitor on,
# and show what it looks at (outputs in runs/demo).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench docs setup dot browser clean mutate

docs: setup
	$(PY) -m pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

bench: setup
	$(PY) -m tinygrad_cnn bench

setup: $(STAMP) dot

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,examples]"
	touch $(STAMP)

# $(call apt_install,PROGRAM,PACKAGE,WHAT_IS_LOST): install PACKAGE with apt-get when PROGRAM is
# missing and we are root; otherwise say what goes without it and how to install it.
define apt_install
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "note: $(1) is missing: $(3)."; \
	    echo "      install it with: sudo apt-get install $(2) (or your system's package manager)"; \
	  fi; }
endef

dot:
	$(call apt_install,dot,graphviz,diagrams will give DOT source only)

# The explorer's browser tests: Playwright's Python package drives Debian's chromium (Playwright's
# own browser download is not needed). Without them those tests skip.
browser: setup
	$(PY) -m pip install --quiet -e ".[browser]"
	$(call apt_install,chromium,chromium,the explorer's browser tests will skip)

# on every core (at most 4 workers): the suite takes about 3 minutes on 2 cores, 5 on one
test: setup
	$(PY) -m pytest -n auto --maxprocesses 4

lint: setup
	$(VENV)/bin/ruff check tinygrad_cnn tests examples benchmarks

demo: setup
	$(PY) -m tinygrad_cnn train --out runs/demo --overwrite --monitor
	$(PY) -m tinygrad_cnn explain --model runs/demo/model.npz --out runs/demo

# make mutate: mutation testing of the op kernels and VJPs with mutmut (not part of CI: hours).
# Its own venv, without the package installed, so the tests import the mutated copy in mutants/.
# Stop it any time; it resumes where it left off. The score per family: benchmarks/mutation/.
MVENV := .venv-mutate
mutate:
	test -x $(MVENV)/bin/python || $(PYTHON) -m venv $(MVENV)
	$(MVENV)/bin/python -m pip install --quiet "mutmut==3.8.1" numpy graphviz "hypothesis>=6.80" "pytest>=7" "pytest-timeout>=2"
	$(MVENV)/bin/mutmut run --max-children 2
	$(MVENV)/bin/python benchmarks/mutation/score.py

clean:
	rm -rf $(VENV) $(MVENV) mutants .pytest_cache .hypothesis build site *.egg-info
