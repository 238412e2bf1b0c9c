# imagegate developer commands. `make demo` and `make test` work on a fresh Debian machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit demo bench deps system-deps clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "installing Debian package python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv >/dev/null; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

deps: $(STAMP) system-deps

# The CNCF distribution registry (Debian package docker-registry) runs the real-registry tests
# and the demo; skopeo is the peer the benchmarks compare against.
system-deps:
	@if [ ! -x /usr/bin/docker-registry ]; then \
	  echo "installing Debian package docker-registry"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq docker-registry >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench demo)
	$(BIN)/ruff format --check src tests $(wildcard bench demo)

typecheck: $(STAMP)
	$(BIN)/mypy src tests $(wildcard bench demo)

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: deps lint typecheck
	$(BIN)/pytest -q tests

demo: deps
	$(BIN)/python -m demo

# `make bench` (a few minutes), `make bench BENCH_ARGS=--quick` (about a minute); see
# docs/benchmarks.md. Results: bench/out/*.json and *.md.
bench: deps
	@if [ ! -x /usr/bin/skopeo ]; then $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq skopeo >/dev/null; fi
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .demo bench/out
