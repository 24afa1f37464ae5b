# tiny-agent-trainer: `make help` lists the targets.
#
# Every cargo call runs with the same environment (venv python on PATH, LIBTORCH_USE_PYTORCH=1):
# torch-sys rebuilds its C++ part whenever that changes.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
CARGO_TARGET_DIR ?= $(CURDIR)/target
BIN := $(CARGO_TARGET_DIR)/release/tiny-agent-trainer
CONFIG ?= config/wgsl_generation.toml
RUN ?= runs/wgsl_generation
# Extra flags for `make run`'s train, e.g. TRAIN_FLAGS="--epochs 20".
TRAIN_FLAGS ?=
# Seconds each fuzz target runs under `make fuzz`; `make test` runs each for FUZZ_TEST_SECONDS.
SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 10
# Passed to benches/compare.py, e.g. BENCH_FLAGS="--steps 50 --configs config/wgsl_small.toml".
BENCH_FLAGS ?=

export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
export CARGO_TARGET_DIR

PYTEST_FLAGS ?= -m ""

.PHONY: help setup build develop test test-rust test-python test-fuzz fuzz run train-small curve bench fmt lint clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed ## Create .venv with the pinned Python deps (torch 2.11.0)

build: setup ## Build the release binary
	cargo build --release -p tat-cli

develop: setup ## Build the Python extension and install the package into the venv (maturin develop)
	$(VENV)/bin/maturin develop --release --quiet

test: setup test-rust test-fuzz test-python ## Set up, then run every test (Rust, a short fuzz of each parser, then Python with the wheel install)

test-rust: setup
	TAT_REQUIRE_DATA=1 cargo test --workspace --release -- --include-ignored

# A short libFuzzer run of every target (the replay of seeds and past crashes is in test-rust).
test-fuzz: setup
	$(VENV)/bin/python crates/tat-fuzz/fuzz.py --seconds $(FUZZ_TEST_SECONDS)

fuzz: setup ## Fuzz every parser that reads user bytes for SECONDS each (default 60); counts in target/fuzz/results.json
	$(VENV)/bin/python crates/tat-fuzz/fuzz.py --seconds $(SECONDS)

# All Python tests, the slow ones (wheel install, Ctrl-C) included; pytest exits 5 when it
# collects nothing, which fails the target.
test-python: build develop
	TAT_REQUIRE_BINARY=1 $(VENV)/bin/python -m pytest $(PYTEST_FLAGS) tests/python

run: build ## Set up, train the default WGSL model, then generate and validate shaders
	@if [ -d $(RUN)/last ]; then \
	  $(BIN) train --config $(CONFIG) --out $(RUN) $(TRAIN_FLAGS) --resume; \
	else \
	  $(BIN) train --config $(CONFIG) --out $(RUN) $(TRAIN_FLAGS); fi
	$(BIN) generate --model $(RUN)/last --prompt "Write a fragment shader that outputs solid red" --prefer-valid --validate
	$(BIN) eval --model $(RUN)/last --split train --prefer-valid --beam 16
	$(MAKE) --no-print-directory curve RUN=$(RUN)

train-small: build ## Train config/wgsl_small.toml (a couple of minutes on 2 cores)
	$(BIN) train --config config/wgsl_small.toml --out runs/wgsl_small

curve: develop ## Plot RUN's loss and learning rate per epoch to RUN/loss.png (tat plot)
	$(VENV)/bin/python -m tiny_agent_trainer plot $(RUN)

bench: setup ## Time the engine against PyTorch eager on both configs, write BENCHMARKS.md
	cargo build --release -p tat-bench
	$(VENV)/bin/python benches/compare.py $(BENCH_FLAGS)

fmt: ## Format the Rust code
	cargo fmt --all

lint: setup ## Clippy with warnings as errors
	cargo clippy --workspace --all-targets -- -D warnings

clean: ## Remove build outputs (keeps .venv and runs/)
	cargo clean
