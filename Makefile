# Quickbox: `make demo` (set up, build, run the demo) and `make test` (build, run every test).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

VENV ?= $(BUILD)/venv
PYTHON ?= python3

.PHONY: all build deps demo test test-cpp test-python python lock bench fuzz soak test-asan clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/quickbox run examples/demo.js
	$(BUILD)/quickbox run examples/typescript/main.ts

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

# The Python package (the extension and the `quickbox` command), built into its own virtual
# environment from hash-pinned requirements. It reuses the engine that `build` compiled in $(BUILD)
# (cmake/EngineFromBuildTree.cmake), so it comes after `build`: two builds in one tree at once
# would trip over each other.
python: build
	$(call pinned_venv,$(VENV))
	$(VENV)/bin/pip install -q --require-hashes -r python/requirements/build.txt -r python/requirements/test.txt
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(VENV)/bin/pip install -q --no-build-isolation --no-deps \
	  --config-settings=cmake.define.QUICKBOX_ENGINE_FROM=$(abspath $(BUILD)) .

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
	cd python/requirements && for f in pip lock-tools build test langchain guest-compiler; do \
	  $(abspath $(LOCK_VENV))/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	    --no-header $(if $(UPGRADE),--upgrade) $$f.in -o $$f.txt || exit 1; done
	cd bench && $(abspath $(LOCK_VENV))/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --no-header $(if $(UPGRADE),--upgrade) requirements-quickjs-rs.in -o requirements-quickjs-rs.txt

bench: build
	$(BUILD)/quickbox-bench
	$(BUILD)/quickbox-bench-typescript

# libFuzzer targets (fuzz/): FUZZ_SECONDS per target, default 60; fails on any finding.
fuzz: deps
	JOBS=$(JOBS) bash fuzz/run.sh

# The soak test (tests/soak/soak.cc): SOAK_THREADS threads run sandboxes on a random mix of
# hostile and normal programs for SOAK_SECONDS while RSS is sampled; SOAK_SEED repeats a run.
# ctest runs a 25-second version as soak_short.
SOAK_SECONDS ?= 300
SOAK_THREADS ?= 4
soak: build
	$(BUILD)/tests/quickbox-soak --seconds $(SOAK_SECONDS) --threads $(SOAK_THREADS) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

# The C++ tests, then the Python tests, with the host code (library, CLI, tests and the Python
# extension) built with AddressSanitizer and UndefinedBehaviorSanitizer in $(ASAN_BUILD); the guest
# wasm is unaffected. Any sanitizer report fails the run. The extension is built in the same tree
# and staged with the package sources in $(ASAN_BUILD)/site, and the CLI goes where pip would put
# it, the venv's bin/ (python/tests/test_cli.py runs it); python itself is not instrumented, so
# libasan is preloaded, with leak detection off (the interpreter never frees much of its own memory
# at exit, which would drown real reports), and libstdc++ with it: python does not link it, and
# ASan's __cxa_throw interceptor must find the real one at start-up or the extension's first C++
# exception aborts. Slow; not part of `make test`.
ASAN_BUILD ?= build-asan
ASAN_VENV ?= $(ASAN_BUILD)/venv
SANITIZERS ?= address,undefined
ASAN_OPTIONS_CPP = detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
ASAN_ENV = LSAN_OPTIONS=suppressions=$(abspath tests/asan/lsan.supp):print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: deps
	$(call pinned_venv,$(ASAN_VENV))
	$(ASAN_VENV)/bin/pip install -q --require-hashes -r python/requirements/build.txt \
	  -r python/requirements/test.txt -r python/requirements/langchain.txt
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUICKBOX_SANITIZE=$(SANITIZERS) \
	  -DQUICKBOX_BUILD_BENCH=OFF -DQUICKBOX_BUILD_PYTHON=ON -DPython_EXECUTABLE=$(abspath $(ASAN_VENV))/bin/python \
	  $(CMAKE_FLAGS)
	ASAN_OPTIONS=detect_leaks=0 cmake --build $(ASAN_BUILD) -j $(JOBS)
	rm -rf $(ASAN_BUILD)/site && mkdir -p $(ASAN_BUILD)/site && cp -r python/quickbox $(ASAN_BUILD)/site/
	cp $(ASAN_BUILD)/python/_quickbox*.so $(ASAN_BUILD)/site/quickbox/
	cp $(ASAN_BUILD)/quickbox $(ASAN_VENV)/bin/
	cd $(ASAN_BUILD) && ASAN_OPTIONS=$(ASAN_OPTIONS_CPP) $(ASAN_ENV) ctest --output-on-failure -j $(JOBS); \
	  cpp=$$?; cd $(CURDIR) && \
	  LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 $(ASAN_ENV) \
	  PYTHONPATH=$(abspath $(ASAN_BUILD))/site $(ASAN_VENV)/bin/python -m pytest -q -p no:cacheprovider; \
	  py=$$?; echo "test-asan: ctest exit $$cpp, pytest exit $$py"; test $$cpp = 0 && test $$py = 0

clean:
	rm -rf $(BUILD)
