#!/usr/bin/env bash
# Stops the private Docker Engine started by start-dockerd.sh (by the PID in its pidfile).
# Running containers are stopped by dockerd itself (SIGTERM, its shutdown timeout).
set -euo pipefail
PIDFILE="${QNB_DOCKER_PIDFILE:-/run/qnb-test-docker.pid}"
SOCK="${QNB_DOCKER_SOCK:-/run/qnb-test-docker.sock}"
if [ ! -f "$PIDFILE" ]; then
  echo "stop-dockerd: not running (no $PIDFILE)" >&2
  exit 0
fi
PID="$(cat "$PIDFILE")"
if ! kill -0 "$PID" 2>/dev/null; then
  echo "stop-dockerd: stale pidfile (pid $PID not running)" >&2
  rm -f "$PIDFILE"
  exit 0
fi
kill -TERM "$PID"
for _ in $(seq 1 120); do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "stop-dockerd: stopped (pid $PID)" >&2
    rm -f "$PIDFILE" "$SOCK"
    exit 0
  fi
  sleep 0.5
done
echo "stop-dockerd: dockerd (pid $PID) still running after 60 s" >&2
exit 1
