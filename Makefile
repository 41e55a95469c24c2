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

dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Graphviz (dot) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "note: Graphviz's 'dot' is missing; diagrams will give DOT source only."; \
	    echo "      install it with: sudo apt-get install graphviz (or: brew install graphviz)"; \
	  fi; }

# The explorer's browser tests: Playwright's Python package drives Debian's chromium (Playwright's
# own browser download is not needed). Without them those tests skip.
browser: setup
	$(PY) -m pip install --quiet -e ".[browser]"
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: chromium is missing; the explorer's browser tests will skip."; \
	    echo "      install it with: sudo apt-get install chromium"; \
	  fi; }

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
