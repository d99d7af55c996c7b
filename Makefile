# kindproof — every set-up step the project needs is a target here; CI runs `make test`.
SHELL := /bin/bash
KIND_BIN := $(CURDIR)/.tools/bin/kind
export KINDPROOF_TEST_KIND := $(KIND_BIN)

.PHONY: all build test docker-up kind nextest lint unit demo bench clean-tools

all: build

build:
	cargo build --release

## Set-up: a running Docker engine (installs docker.io and busybox-static when missing).
docker-up:
	./scripts/docker-up.sh

## Set-up: the kind CLI from Debian unstable, into .tools/bin (no system change).
kind:
	./scripts/fetch-kind.sh

nextest:
	@command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

## Everything: set-up, lint, and the whole test suite against the real engine and kind CLI.
test: docker-up kind nextest lint
	cargo nextest run --no-fail-fast

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
bench:
	cargo bench --bench ports

clean-tools:
	rm -rf .tools
