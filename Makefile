# imagegate developer commands. `make demo` and `make test` work on a fresh Debian machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit demo bench deps system-deps clean dist smoke-wheel image-deps \
	image image-test

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
# and the demo; skopeo is the peer the benchmarks compare against. zsh and fish check the
# completion scripts (tests/integration/test_cli_conventions.py); chromium (driven by
# Playwright with the system browser, nothing downloaded) runs the console's browser tests.
system-deps:
	@if [ ! -x /usr/bin/docker-registry ]; then \
	  echo "installing Debian package docker-registry"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq docker-registry >/dev/null; \
	fi
	@if ! command -v zsh >/dev/null || ! command -v fish >/dev/null; then \
	  echo "installing Debian packages zsh fish"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq zsh fish >/dev/null; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian package chromium (the console's browser tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; \
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

# `make demo CONSOLE=1` keeps the registries and the web console up until Ctrl-C.
demo: deps
	$(BIN)/python -m demo $(if $(CONSOLE),--console)

# `make bench` (a few minutes), `make bench BENCH_ARGS=--quick` (about a minute); see
# docs/benchmarks.md. Results: bench/out/*.json and *.md.
bench: deps
	@if [ ! -x /usr/bin/skopeo ]; then $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq skopeo >/dev/null; fi
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Packaging (docs/install.md). `make dist`: the sdist and wheel in dist/. `make smoke-wheel`:
# the wheel installed into a fresh virtual environment outside the checkout runs a sync.
# `make image`: the container image as an OCI layout in build/image/oci (Debian's mmdebstrap
# and umoci; needs root; the Debian base layer is cached in ~/.cache/imagegate-image).
# `make image-test`: that image pushed, copied by its own imagegate, read back digest-exact,
# and run (a sync) in its read-only root filesystem as its non-root user.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_NAME ?= imagegate
IMAGE_DIR := build/image
WHEEL := dist/imagegate-$(VERSION)-py3-none-any.whl

dist: $(STAMP)
	rm -rf dist
	@mkdir -p build
	$(BIN)/python -m build --outdir dist . >build/dist.log 2>&1 || { cat build/dist.log; exit 1; }
	@ls -l dist

smoke-wheel: dist system-deps
	SMOKE_DIST=$(CURDIR)/dist $(BIN)/pytest -q tests/integration/test_wheel_install.py

image-deps:
	@if ! command -v mmdebstrap >/dev/null || ! command -v umoci >/dev/null \
	    || ! command -v strip >/dev/null; then \
	  echo "installing Debian packages mmdebstrap umoci binutils"; \
	  $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq mmdebstrap umoci binutils >/dev/null; \
	fi

image: dist image-deps
	$(SUDO) env PIP=$(CURDIR)/$(BIN)/pip IMAGE_NAME=$(IMAGE_NAME) \
	  deploy/image/build.sh $(WHEEL) $(IMAGE_DIR)

image-test: image system-deps
	$(SUDO) env IMAGE_LAYOUT=$(CURDIR)/$(IMAGE_DIR)/oci IMAGE_TAG=$(VERSION) \
	  $(BIN)/pytest -q tests/integration/test_image.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .demo bench/out build dist
