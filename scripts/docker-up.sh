#!/usr/bin/env bash
# Make a Docker engine available (idempotent): install docker.io from Debian if dockerd is
# missing, start dockerd in the background if no engine answers, and wait (bounded) for it.
# Also installs busybox-static, whose static binary the Docker tests pack into their own image
# (no image ever comes from a registry).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "docker-up: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "docker-up: engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

log="${TMPDIR:-/tmp}/kindproof-dockerd.log"
echo "docker-up: starting dockerd (log: $log)"
$SUDO sh -c "nohup dockerd >'$log' 2>&1 &"
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker-up: engine up ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
  fi
  sleep 1
done
echo "docker-up: dockerd did not answer within 60 s; last log lines:" >&2
tail -20 "$log" >&2 || true
exit 3
