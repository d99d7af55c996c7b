#!/usr/bin/env bash
# fetch-sid.sh PACKAGE BINARY: fetch one program from Debian's unstable suite into
# .tools/bin/BINARY without touching the system's apt sources: a private sources list and
# private package lists under .tools/apt, and no dpkg status (what this machine has installed
# must not change which version is fetched). Idempotent. kind and kubectl need only libc.
set -euo pipefail

pkg="$1"
bin="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
case "$bin" in
  kubectl) version_args=(version --client) ;;
  *) version_args=(version) ;;
esac
if [ -x "$tools/bin/$bin" ] && "$tools/bin/$bin" "${version_args[@]}" >/dev/null 2>&1; then
  echo "fetch-sid: $bin $("$tools/bin/$bin" "${version_args[@]}" 2>/dev/null | head -n 1)"
  exit 0
fi
apt_dir="$tools/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives" "$tools/bin"
echo "deb http://deb.debian.org/debian sid main" > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=/dev/null"
      -o "APT::Sandbox::User=root")
# One update serves both programs while the lists are fresh (an hour).
stamp="$apt_dir/lists/.updated"
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60)" ]; then
  apt-get "${opts[@]}" update -qq
  touch "$stamp"
fi
rm -f "$apt_dir/archives/${pkg}_"*.deb
(cd "$apt_dir/archives" && apt-get "${opts[@]}" download "$pkg" >/dev/null)
deb=$(ls "$apt_dir/archives/${pkg}_"*.deb | tail -n 1)
rm -rf "$apt_dir/x"
dpkg-deb -x "$deb" "$apt_dir/x"
install -m 0755 "$apt_dir/x/usr/bin/$bin" "$tools/bin/$bin"
rm -rf "$apt_dir/x"
echo "fetch-sid: $bin $("$tools/bin/$bin" "${version_args[@]}" 2>/dev/null | head -n 1)"
