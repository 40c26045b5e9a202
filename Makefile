# Two entry points a newcomer needs: `make demo` and `make test`.
# Both create .venv when missing, install the pinned CPU torch first, then the package.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.wtko-installed

.PHONY: demo test test-quick bench install clean

PLUGINS := plugins/wtko_tangermeme plugins/wtko_modisco plugins/wtko_pgt

$(STAMP): pyproject.toml constraints.txt $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -c constraints.txt -e ".[test]" $(addprefix -e ,$(PLUGINS))
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/wtko demo -o wtko_demo

test: $(STAMP)
	$(PY) -m pytest -q -ra

# the quick local loop: skips tests that drive external desktop programs (IGV under xvfb)
test-quick: $(STAMP)
	$(PY) -m pytest -q -m "not external"

bench: $(STAMP)
	$(PY) benchmarks/attribution.py
	$(PY) benchmarks/bigwig.py
	$(PY) benchmarks/variants.py

clean:
	rm -rf $(VENV) wtko_demo .pytest_cache
