#!/usr/bin/env bash
# fuzz-smoke.sh [SECONDS]: build the cargo-fuzz targets (fuzz/) and run each for SECONDS
# (default 30), seeded with the fixtures, with a 1 s limit per input and bounded memory. Any
# crash, timeout or out-of-memory fails the script, leaving the input under fuzz/artifacts/.
# cargo-fuzz is installed into .tools/ when missing; the sanitizer flags need a nightly
# toolchain, else the stable one with RUSTC_BOOTSTRAP=1.
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
export PATH="$tools/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked --root "$tools" cargo-fuzz
fi
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
cd "$root"
# The writable corpus lives in a temp dir (removed on exit); the fixtures are read-only seeds.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
declare -A seeds=(
  [kind_config]="tests/fixtures/kind-configs kind-configs"
  [scenario]="tests/fixtures/scenarios scenarios"
  [variables]="fuzz/seeds/variables"
)
for target in kind_config scenario variables; do
  mkdir -p "$work/$target"
  # shellcheck disable=SC2086 # the seed list is split on purpose
  cargo "${toolchain[@]}" fuzz run --dev --fuzz-dir fuzz "$target" "$work/$target" ${seeds[$target]} -- \
    -max_total_time="$seconds" -timeout=1 -rss_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1 2>&1 | tail -n 12
  echo "fuzz-smoke: $target: no crash, timeout or OOM in ${seconds}s"
done
