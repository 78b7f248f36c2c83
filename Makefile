# Quickbox: `make demo` (set up, build, run the demo) and `make test` (build, run every test).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

VENV ?= $(BUILD)/venv
PYTHON ?= python3

.PHONY: all build deps demo test test-cpp test-python python lock bench fuzz clean

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

# A venv whose first install is the hash-pinned installer (python/requirements/pip.txt): the
# interpreter's bundled pip differs from machine to machine, and old ones resolve a pinned lock
# differently (pip 23.2 treats an extra such as google-auth[requests] as a fresh, unpinned
# requirement and takes the newest release). Usage: $(call pinned_venv,DIR)
define pinned_venv
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install -q --require-hashes -r python/requirements/pip.txt
endef

# The Python package, built into its own virtual environment from hash-pinned requirements.
python: deps
	$(call pinned_venv,$(VENV))
	$(VENV)/bin/pip install -q --require-hashes -r python/requirements/build.txt -r python/requirements/test.txt
	$(VENV)/bin/pip install -q --no-build-isolation --no-deps .

# Also installs what quickbox.langchain and its tests need (hash-pinned), for the type check and tests.
test-python: python
	$(VENV)/bin/pip install -q --require-hashes -r python/requirements/langchain.txt
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/python -m pytest -q

# Re-resolves python/requirements/*.txt (and bench/requirements-quickjs-rs.txt) from the *.in files with the pinned uv (lock-tools.txt).
# Existing pins are kept unless an .in file changed; UPGRADE=1 moves everything to the newest.
LOCK_VENV ?= $(BUILD)/lock-venv
lock:
	$(call pinned_venv,$(LOCK_VENV))
	$(LOCK_VENV)/bin/pip install -q --require-hashes -r python/requirements/lock-tools.txt
	cd python/requirements && for f in pip lock-tools build test langchain; do \
	  $(abspath $(LOCK_VENV))/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	    --no-header $(if $(UPGRADE),--upgrade) $$f.in -o $$f.txt || exit 1; done
	cd bench && $(abspath $(LOCK_VENV))/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --no-header $(if $(UPGRADE),--upgrade) requirements-quickjs-rs.in -o requirements-quickjs-rs.txt

bench: build
	$(BUILD)/quickbox-bench

# libFuzzer targets (fuzz/): FUZZ_SECONDS per target, default 60; fails on any finding.
fuzz: deps
	JOBS=$(JOBS) bash fuzz/run.sh

clean:
	rm -rf $(BUILD)
