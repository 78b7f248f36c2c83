# Quickbox: `make demo` (set up, build, run the demo) and `make test` (build, run every test).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

VENV ?= $(BUILD)/venv
PYTHON ?= python3

.PHONY: all build deps demo test test-cpp test-python python bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/quickbox run examples/demo.js

test: test-cpp test-python

test-cpp: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The Python package, built into its own virtual environment from hash-pinned requirements.
python: deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes -r python/requirements/build.txt -r python/requirements/test.txt
	$(VENV)/bin/pip install -q --no-build-isolation --no-deps .

# Also installs what quickbox.langchain and its tests need (hash-pinned), for the type check and tests.
test-python: python
	$(VENV)/bin/pip install -q --require-hashes -r python/requirements/langchain.txt
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/python -m pytest -q

bench: build
	$(BUILD)/quickbox-bench

# libFuzzer targets (fuzz/): FUZZ_SECONDS per target, default 60; fails on any finding.
fuzz: deps
	JOBS=$(JOBS) bash fuzz/run.sh

clean:
	rm -rf $(BUILD)
