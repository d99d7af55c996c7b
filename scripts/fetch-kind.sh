#!/usr/bin/env bash
# Fetch the kind CLI from Debian's unstable suite into .tools/bin/kind without touching the
# system's apt sources: a private sources list and private package lists under .tools/apt.
# Idempotent. kind needs only libc.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
if [ -x "$tools/bin/kind" ] && "$tools/bin/kind" version >/dev/null 2>&1; then
  echo "fetch-kind: $("$tools/bin/kind" version)"
  exit 0
fi
apt_dir="$tools/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives" "$tools/bin"
echo "deb http://deb.debian.org/debian sid main" > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" update -qq
(cd "$apt_dir/archives" && apt-get "${opts[@]}" download kind >/dev/null)
deb=$(ls "$apt_dir"/archives/kind_*.deb | tail -n 1)
rm -rf "$apt_dir/x"
dpkg-deb -x "$deb" "$apt_dir/x"
install -m 0755 "$apt_dir/x/usr/bin/kind" "$tools/bin/kind"
echo "fetch-kind: $("$tools/bin/kind" version)"
