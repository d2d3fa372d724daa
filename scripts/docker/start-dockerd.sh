#!/usr/bin/env bash
# Starts a private Docker Engine for qnb's tests (root only).
#   - installs Debian's docker.io (and debootstrap, used to build test images) if dockerd is missing
#   - socket /run/qnb-test-docker.sock, data root /var/lib/qnb-test-docker, pidfile /run/qnb-test-docker.pid
#   - no bridge network, no iptables: containers run with --network host only
# Idempotent: if the engine from the pidfile answers, it is reused.
# Prints, as its last line:  export DOCKER_HOST=unix:///run/qnb-test-docker.sock
# Environment overrides: QNB_DOCKER_SOCK, QNB_DOCKER_DATA, QNB_DOCKER_PIDFILE, QNB_DOCKER_LOG.
set -euo pipefail

SOCK="${QNB_DOCKER_SOCK:-/run/qnb-test-docker.sock}"
DATA="${QNB_DOCKER_DATA:-/var/lib/qnb-test-docker}"
PIDFILE="${QNB_DOCKER_PIDFILE:-/run/qnb-test-docker.pid}"
LOG="${QNB_DOCKER_LOG:-/var/log/qnb-test-docker.log}"
EXEC_ROOT="${QNB_DOCKER_EXEC_ROOT:-/run/qnb-test-docker}"
export DOCKER_HOST="unix://$SOCK"

log() { echo "start-dockerd: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root (dockerd needs it)"
  exit 1
fi

# The docker CLI: prefer Debian's (same version as the daemon) over any other on PATH.
docker_cli() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

engine_answers() { docker_cli version >/dev/null 2>&1; }

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && engine_answers; then
  log "already running (pid $(cat "$PIDFILE"))"
  echo "export DOCKER_HOST=$DOCKER_HOST"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  log "installing docker.io and debootstrap with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq docker.io debootstrap >&2
fi

# A stale pidfile from a dead daemon blocks a new one.
if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  rm -f "$PIDFILE"
fi
if [ -S "$SOCK" ] && ! engine_answers; then
  rm -f "$SOCK"
fi

mkdir -p "$DATA" "$EXEC_ROOT" "$(dirname "$LOG")"
log "starting dockerd (socket $SOCK, data $DATA, log $LOG)"
# setsid: the daemon must not die with the shell/terminal that started it.
setsid dockerd \
  --host "unix://$SOCK" \
  --data-root "$DATA" \
  --exec-root "$EXEC_ROOT" \
  --pidfile "$PIDFILE" \
  --bridge=none \
  --iptables=false \
  --ip-masq=false \
  >>"$LOG" 2>&1 </dev/null &

for _ in $(seq 1 120); do
  if engine_answers; then
    log "dockerd is up (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"
    echo "export DOCKER_HOST=$DOCKER_HOST"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer within 60 s; last log lines:"
tail -n 20 "$LOG" >&2 || true
exit 1
