#!/usr/bin/env bash
# The nextest harness over the shipped scenarios: it lists every variant `kindproof list`
# shows (ignored ones included), runs one that needs no node image, and splits the list into
# disjoint, complete partitions. Called by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.tools/bin:$PATH"
export PATH

all=$(cargo nextest list --test scenarios --run-ignored all --message-format oneline 2>/dev/null \
  | sed -n 's/^kindproof::scenarios //p' | sort)
want=$(cargo run -q --bin kindproof -- list scenarios | awk '/^[a-z0-9]/{v=$1} /^  - /{sub(":$","",$2); print v"::"$2}' | sort)
if [ "$all" != "$want" ]; then
  echo "check-harness: the harness lists other variants than kindproof list:" >&2
  diff <(echo "$want") <(echo "$all") >&2 || true
  exit 1
fi
n=$(echo "$all" | wc -l)
[ "$n" -ge 20 ] || { echo "check-harness: only $n variants listed" >&2; exit 1; }

one=$(cargo nextest list --test scenarios --run-ignored all --partition hash:1/2 --message-format oneline 2>/dev/null | sed -n 's/^kindproof::scenarios //p' | sort)
two=$(cargo nextest list --test scenarios --run-ignored all --partition hash:2/2 --message-format oneline 2>/dev/null | sed -n 's/^kindproof::scenarios //p' | sort)
again=$(cargo nextest list --test scenarios --run-ignored all --partition hash:1/2 --message-format oneline 2>/dev/null | sed -n 's/^kindproof::scenarios //p' | sort)
[ "$one" = "$again" ] || { echo "check-harness: partition 1/2 differs between two listings" >&2; exit 1; }
[ -z "$(comm -12 <(echo "$one") <(echo "$two"))" ] || { echo "check-harness: partitions overlap" >&2; exit 1; }
[ "$(printf '%s\n%s\n' "$one" "$two" | sed '/^$/d' | sort)" = "$all" ] || { echo "check-harness: partitions miss variants" >&2; exit 1; }

cargo nextest run --test scenarios -E 'test(/kind-random-hostports::bug$/)' --no-tests=fail
echo "check-harness: $n variants listed; partitions disjoint and complete; kind-random-hostports::bug ran"
