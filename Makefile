# Everything a fresh machine needs, from `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= $(abspath ../shared)
BUILD := build

.PHONY: demo test venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# Debian's command-line tools the examples, tests and benchmarks run: fasttext (BlazingText
# models are trained with it: the PyPI builds' supervised training diverges on some machines)
# and wrk (the load generator of bench/). Installed with apt when missing (needs root).
TOOLS := $(VENV)/.tools
$(TOOLS): | $(STAMP)
	command -v fasttext >/dev/null && command -v wrk >/dev/null || { \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fasttext wrk >/dev/null; }
	touch $@

demo: $(STAMP) $(TOOLS)
	$(PY) examples/demo.py --data $(SHARED)/data/abalone.data --build $(BUILD)

# Independent test files run in TEST_JOBS processes; the ones marked serial (they measure
# latency and memory under attack) run afterwards, alone. pytest's 5 means none was chosen.
TEST_JOBS ?= 3
test: $(STAMP) $(TOOLS)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile -m "not serial" $(PYTEST_ARGS)
	$(PY) -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: $(STAMP) $(TOOLS)
	$(PY) bench/single_container.py

clean:
	rm -rf $(BUILD) .pytest_cache

-include containers/images.mk
