#!/bin/bash
# Entrypoint of qnb's local test image qnb-test/neo4j:5.26.N (built by build-neo4j-image.sh),
# written for qnb from the official neo4j:5 image's documented behaviour (docs/neo4j.md lists each
# behaviour and what qnb does about it). It runs under tini (`tini -g --`, PID 1), like the
# official image, and does what the official entrypoint does that can bite a backup tool:
#   - started as root: the command runs as user neo4j (uid/gid 7474) after the home folder is
#     chowned to it; started with `--user UID:GID`: everything runs as that user, nothing chowned;
#   - /data and /logs (VOLUMEs) and /data/{databases,dbms,transactions}, when started as root:
#     a folder neo4j cannot write, or one with ANY file inside neo4j cannot write, is chowned
#     recursively (`chown -R`) to neo4j, with a warning printed on STDOUT — for every command,
#     `neo4j-admin …` included, so the warning lands in front of anything written to stdout;
#     with --user, a folder that user cannot write stops the container with advice;
#   - NEO4J_<setting> variables become neo4j.conf settings for every command (`_` -> `.`,
#     `__` -> `_`), e.g. NEO4J_server_memory_heap_max__size=1g -> server.memory.heap.max_size=1g;
#   - NEO4J_AUTH=neo4j/PASSWORD: `neo4j-admin dbms set-initial-password` on EVERY server start
#     (ignored by Neo4j once the system database has users); NEO4J_AUTH=none turns auth off;
#   - CMD `neo4j` runs the server in the foreground (docker stop = SIGTERM = clean shutdown);
#     any other command runs as given (as neo4j when started as root).
# Differences (this machine's containers use --network host only): Bolt listens on
# ${NEO4J_BOLT_LISTEN_ADDRESS:-127.0.0.1}:${NEO4J_BOLT_PORT:-7687} (NEO4J_server_bolt_* variables
# override it), HTTP off; the password reaches set-initial-password in a picocli @file, not in argv.
set -euo pipefail

NEO4J_HOME=/var/lib/neo4j
CONF="$NEO4J_HOME/conf/neo4j.conf"
export NEO4J_HOME
cmd="${1:-neo4j}"

if [ "$(id -u)" = 0 ]; then
  run_uid=7474 run_gid=7474
  as_user() { setpriv --reuid=7474 --regid=7474 --init-groups -- "$@"; }
else
  run_uid="$(id -u)" run_gid="$(id -g)"
  as_user() { "$@"; }
fi

# A folder the container's user must be able to write (the official image's mounted-folder check).
check_writable() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  if [ "$(id -u)" = 0 ]; then
    if ! as_user test -w "$dir"; then
      echo "Warning: Folder mounted to \"$dir\" is not writable from inside container. Changing folder owner to neo4j."
      chown -R 7474:7474 "$dir"
    elif [ -n "$(as_user find "$dir" ! -writable -print -quit 2>/dev/null)" ]; then
      echo "Warning: Some files inside \"$dir\" are not writable from inside container. Changing folder owner to neo4j."
      chown -R 7474:7474 "$dir"
    fi
  elif [ ! -w "$dir" ] && [ "$(stat -c %U "$dir")" != neo4j ]; then
    echo >&2 "Folder $dir is not accessible for user: $run_uid or group $run_gid."
    echo >&2 "Hints to solve the issue: make sure the folder exists before mounting it, and that it is owned by $run_uid:$run_gid (or writable by it)."
    exit 1
  fi
}

set_conf() {
  local key="$1" value="$2" tmp
  tmp="$(mktemp "$CONF.XXXXXX")"
  grep -v -E "^[[:space:]]*${key//./\\.}=" "$CONF" >"$tmp" || true
  printf '%s=%s\n' "$key" "$value" >>"$tmp"
  cat "$tmp" >"$CONF"
  rm -f "$tmp"
}

# Docker defaults: only where neither neo4j.conf nor a NEO4J_ variable sets them.
default_conf() {
  grep -q -E "^[[:space:]]*${1//./\\.}=" "$CONF" || printf '%s=%s\n' "$1" "$2" >>"$CONF"
}

configure_from_env() {
  local port="${NEO4J_BOLT_PORT:-7687}" name key
  [ -d /logs ] && set_conf server.directories.logs /logs
  default_conf server.default_listen_address 127.0.0.1
  set_conf server.bolt.listen_address "${NEO4J_BOLT_LISTEN_ADDRESS:-127.0.0.1}:$port"
  set_conf server.bolt.advertised_address "127.0.0.1:$port"
  while IFS= read -r name; do
    case "$name" in
      NEO4J_AUTH | NEO4J_AUTH_PATH | NEO4J_HOME | NEO4J_CONF | NEO4J_BOLT_PORT | NEO4J_BOLT_LISTEN_ADDRESS | NEO4J_EDITION | NEO4J_DEBUG | \
        NEO4J_ACCEPT_LICENSE_AGREEMENT | NEO4J_PLUGINS | NEO4J_VERSION | NEO4J_SHA256 | NEO4J_TARBALL) continue ;;
    esac
    [ -n "${!name}" ] || continue
    key="$(printf '%s' "${name#NEO4J_}" | sed 's/__/@@/g; s/_/./g; s/@@/_/g')"
    set_conf "$key" "${!name}"
  done < <(compgen -e | grep -E '^NEO4J_[A-Za-z0-9_]+$' || true)
}

set_initial_password() {
  local auth="${NEO4J_AUTH:-}"
  if [ "$auth" = none ]; then
    set_conf dbms.security.auth_enabled false
    return
  fi
  [ -n "$auth" ] || return 0
  local user="${auth%%/*}" password="${auth#*/}"
  password="${password%/true}"
  if [ "$user" != neo4j ] || [ "$password" = "$auth" ] || [ -z "$password" ]; then
    echo >&2 "Invalid value for NEO4J_AUTH: '$user/***'"
    exit 1
  fi
  if [ "$password" = neo4j ]; then
    echo >&2 "Invalid value for password. It cannot be 'neo4j', which is the default."
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    # made as root, /data/dbms would stop neo4j from starting
    mkdir -p /data/dbms
    chown 7474:7474 /data/dbms
  fi
  # picocli @file: the password never appears in a process's argv
  local argfile esc rc=0
  argfile="$(mktemp /tmp/.initial-password.XXXXXX)"
  esc="${password//\\/\\\\}"
  esc="${esc//\"/\\\"}"
  printf '"%s"\n' "$esc" >"$argfile"
  [ "$(id -u)" = 0 ] && chown 7474:7474 "$argfile"
  as_user "$NEO4J_HOME/bin/neo4j-admin" dbms set-initial-password "@$argfile" || rc=$?
  rm -f "$argfile"
  if [ "$rc" != 0 ]; then
    echo >&2 "neo4j-admin dbms set-initial-password failed ($rc)"
    exit "$rc"
  fi
}

if [ "$(id -u)" = 0 ]; then
  chown -R 7474:7474 "$NEO4J_HOME"
fi
check_writable /logs
check_writable /data
for d in /data/databases /data/dbms /data/transactions; do check_writable "$d"; done
configure_from_env

if [ "$cmd" = neo4j ] && { [ $# -le 1 ] || [ "${2:-}" = console ]; }; then
  set_initial_password
  set -- "$NEO4J_HOME/bin/neo4j" console
fi
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=7474 --regid=7474 --init-groups -- "$@"
fi
exec "$@"
