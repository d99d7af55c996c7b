# kindproof — every set-up step the project needs is a target here; CI runs `make test`.
SHELL := /bin/bash
KIND_BIN := $(CURDIR)/.tools/bin/kind
export KINDPROOF_TEST_KIND := $(KIND_BIN)

HOST_TRIPLE := $(shell rustc -vV | sed -n 's/host: //p')
PROBE_BIN := $(CURDIR)/target/$(HOST_TRIPLE)/release/kindproof-probe
export KINDPROOF_PROBE_BIN := $(PROBE_BIN)

.PHONY: all build test test-kind docker-up kind probe fake-kind nextest lint unit demo bench clean-tools

all: build

build:
	cargo build --release

## Set-up: a running Docker engine (installs docker.io and busybox-static when missing).
docker-up:
	./scripts/docker-up.sh

## Set-up: the kind CLI from Debian unstable, into .tools/bin (no system change).
kind:
	./scripts/fetch-kind.sh

## The in-cluster probe, statically linked (an image FROM scratch runs it). --target keeps
## crt-static away from build scripts and proc-macros.
probe:
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
	  cargo build --release -p kindproof-probe --target $(HOST_TRIPLE)
	@file_out=$$(ldd $(PROBE_BIN) 2>&1 || true); echo "probe: $$file_out"; \
	  case "$$file_out" in *"not a dynamic executable"*|*"statically linked"*) ;; *) echo "probe is not static" >&2; exit 1;; esac

## The test-only stand-in for kind (does to Docker what kind does, without Kubernetes).
fake-kind:
	cargo build -p kindproof-fake-kind

nextest:
	@command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

lint:
	cargo fmt --check
	cargo clippy --all-targets --workspace -- -D warnings

## Everything: set-up, lint, and the whole test suite against the real engine and kind CLI.
test: docker-up kind probe fake-kind nextest lint
	cargo nextest run --workspace --no-fail-fast

## The tests that need a real cluster (ignored elsewhere): where kind and a local node image
## exist. KINDPROOF_NODE_IMAGE names the image; nothing is pulled.
test-kind: docker-up kind probe fake-kind nextest
	PATH=$(CURDIR)/.tools/bin:$$PATH cargo nextest run --workspace --run-ignored only

## Unit tests only: no Docker, no kind.
unit: nextest
	cargo nextest run --lib

## The main job as far as it goes today: check the shipped kind configs against the installed
## kind and against kind 0.21 (the random-port bug), and resolve their host ports.
demo: docker-up kind build
	PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof doctor
	PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof validate kind-configs/
	./target/release/kindproof validate --kind-version 0.21.0 kind-configs/
	for f in kind-configs/*.yaml; do ./target/release/kindproof ports --kind-version 0.33.0 $$f || exit $$?; done

## Benchmarks: figures and ratios against baselines measured in the same run.
bench: docker-up probe
	cargo bench --bench ports
	cargo bench --bench connect
	cargo bench --bench harness

clean-tools:
	rm -rf .tools
