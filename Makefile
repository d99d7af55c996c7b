# kindproof — every set-up step the project needs is a target here; CI runs `make test`.
SHELL := /bin/bash
KIND_BIN := $(CURDIR)/.tools/bin/kind
export KINDPROOF_TEST_KIND := $(KIND_BIN)
# Client-side apply runs this kubectl (fetched by `make kubectl`), not whatever PATH has.
export KINDPROOF_KUBECTL := $(CURDIR)/.tools/bin/kubectl

HOST_TRIPLE := $(shell rustc -vV | sed -n 's/host: //p')
PROBE_BIN := $(CURDIR)/target/$(HOST_TRIPLE)/release/kindproof-probe
export KINDPROOF_PROBE_BIN := $(PROBE_BIN)

.PHONY: all build test fuzz test-kind docker-up kind kubectl probe fake-kind nextest lint unit demo bench clean-tools

all: build

build:
	cargo build --release

## Set-up: a running Docker engine (installs docker.io and busybox-static when missing).
docker-up:
	./scripts/docker-up.sh

## Set-up: the kind CLI from Debian unstable, into .tools/bin (no system change).
kind:
	./scripts/fetch-sid.sh kind kind

## Set-up: kubectl from Debian unstable, into .tools/bin the same way (client-side apply
## needs it).
kubectl:
	./scripts/fetch-sid.sh kubectl kubectl

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
test: docker-up kind kubectl probe fake-kind nextest lint
	cargo nextest run --workspace --no-fail-fast
	./scripts/check-harness.sh
	./scripts/fuzz-smoke.sh 30

## The loaders under cargo fuzz (nightly, or stable with RUSTC_BOOTSTRAP): FUZZ_SECONDS each.
FUZZ_SECONDS ?= 300
fuzz:
	./scripts/fuzz-smoke.sh $(FUZZ_SECONDS)

## The tests that need a real cluster (ignored elsewhere): where kind and a local node image
## exist. KINDPROOF_NODE_IMAGE names the image; nothing is pulled.
test-kind: docker-up kind kubectl probe fake-kind nextest
	PATH=$(CURDIR)/.tools/bin:$$PATH cargo nextest run --workspace --run-ignored only

## Unit tests only: no Docker, no kind.
unit: nextest
	cargo nextest run --lib

## The main job: check the scenarios and kind configs, then run every scenario on kind
## clusters, with JUnit and JSON reports in target/reports/. Running needs a local kindest/node
## image (KINDPROOF_NODE_IMAGE, or any kindest/node tag); without one, it says so and stops.
demo: docker-up kind kubectl probe build
	PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof doctor
	PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof validate scenarios/
	PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof list
	PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof validate kind-configs/
	./target/release/kindproof validate --kind-version 0.21.0 kind-configs/
	for f in kind-configs/*.yaml; do ./target/release/kindproof ports --kind-version 0.33.0 $$f || exit $$?; done
	@mkdir -p target/reports
	@if [ -n "$$KINDPROOF_NODE_IMAGE" ] || [ -n "$$(docker images -q kindest/node 2>/dev/null)" ]; then \
	  PATH=$(CURDIR)/.tools/bin:$$PATH ./target/release/kindproof run scenarios/ \
	    --report-junit target/reports/junit.xml --report-json target/reports/run.json; \
	else \
	  echo "demo: no kindest/node image is present locally, so no cluster can start here; \
	docker load one (kindproof never pulls) or set KINDPROOF_NODE_IMAGE, then run make demo again"; \
	fi

## Benchmarks: figures and ratios against baselines measured in the same run.
bench: docker-up probe
	cargo bench --bench ports
	cargo bench --bench connect
	cargo bench --bench harness
	cargo bench --bench scheduler
	cargo bench --bench pool
	cargo bench --bench timeline

clean-tools:
	rm -rf .tools
