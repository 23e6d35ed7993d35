# SPDX-License-Identifier: MIT
# What users type.  The real build is CMake; these targets drive it.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20

.PHONY: all build deps test test-plain test-asan demo fuzz bench format format-check clean

all: build

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

deps:
	@scripts/install-deps

# Every test twice: a plain build, then AddressSanitizer + UBSan.
test: deps format-check
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-asan

test-plain: build
	@cd build && ctest --output-on-failure -j$(JOBS)

test-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPOSTERN_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

demo: deps build
	@scripts/demo

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOSTERN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@scripts/run-fuzz build-fuzz $(FUZZ_SECONDS)

# Inbound benchmark against a private Postfix (root; ~5 minutes): bench/README.md
bench: deps build
	@bench/run --no-build

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

clean:
	rm -rf build build-asan build-fuzz
