#!/usr/bin/env bash
# Stops the Ceph daemons that scripts/s3/start-rgw.sh started in RGW_DIR (first argument or
# $RGW_DIR): SIGTERM by the pids in run/*.pid, then waits up to 20 s, then SIGKILL.
set -uo pipefail
D=$(realpath -m "${1:-${RGW_DIR:-.rgw}}")
pids=()
for f in "$D"/run/*.pid; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
[ ${#pids[@]} -eq 0 ] && exit 0
kill "${pids[@]}" 2>/dev/null
for _ in $(seq 1 40); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && exit 0
  sleep 0.5
done
kill -9 "${pids[@]}" 2>/dev/null
exit 0
