#!/bin/bash
# Entrypoint of qnb's local test image qnb-test/neo4j:5.26.N (built by build-neo4j-image.sh).
# Mirrors the official neo4j:5 image where qnb depends on it:
#   - CMD `neo4j` (or `neo4j console`): configure from the environment, then exec Neo4j in the
#     FOREGROUND as the container's main process, so `docker stop` (SIGTERM) shuts it down cleanly;
#   - NEO4J_AUTH=neo4j/PASSWORD sets the initial password before the first start
#     (NEO4J_AUTH=none disables authentication);
#   - NEO4J_<setting> variables become neo4j.conf settings (`_` -> `.`, `__` -> `_`), e.g.
#     NEO4J_server_memory_heap_max__size=1g -> server.memory.heap.max_size=1g;
#   - any other command is run as given (e.g. `neo4j-admin database dump neo4j --to-stdout`);
#   - Neo4j runs as user neo4j (uid/gid 7474) and owns /data, like the official image.
# Differences: Bolt listens on 127.0.0.1:${NEO4J_BOLT_PORT:-7687} by default (containers run with
# --network host only; NEO4J_BOLT_LISTEN_ADDRESS overrides the host part), HTTP is off.
set -euo pipefail

NEO4J_HOME=/var/lib/neo4j
CONF="$NEO4J_HOME/conf/neo4j.conf"
export NEO4J_HOME

as_neo4j() {
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=7474 --regid=7474 --init-groups -- "$@"
  fi
  exec "$@"
}

fix_ownership() {
  if [ "$(id -u)" = 0 ]; then
    mkdir -p /data "$NEO4J_HOME/logs" "$NEO4J_HOME/run"
    # Only what is not already neo4j's (a large /data is not walked on every start).
    find /data "$NEO4J_HOME/logs" "$NEO4J_HOME/run" \( ! -user 7474 -o ! -group 7474 \) \
      -exec chown -h 7474:7474 {} + 2>/dev/null || true
  fi
}

set_conf() {
  local key="$1" value="$2"
  local tmp
  tmp="$(mktemp "$CONF.XXXXXX")"
  grep -v -E "^[[:space:]]*${key//./\\.}=" "$CONF" >"$tmp" || true
  printf '%s=%s\n' "$key" "$value" >>"$tmp"
  cat "$tmp" >"$CONF"
  rm -f "$tmp"
}

configure_from_env() {
  local port="${NEO4J_BOLT_PORT:-7687}"
  local host="${NEO4J_BOLT_LISTEN_ADDRESS:-127.0.0.1}"
  set_conf server.bolt.listen_address "$host:$port"
  set_conf server.bolt.advertised_address "127.0.0.1:$port"
  local name key
  while IFS= read -r name; do
    case "$name" in
      NEO4J_AUTH | NEO4J_HOME | NEO4J_CONF | NEO4J_BOLT_PORT | NEO4J_BOLT_LISTEN_ADDRESS | NEO4J_EDITION | \
        NEO4J_ACCEPT_LICENSE_AGREEMENT | NEO4J_PLUGINS | NEO4J_DEBUG | NEO4J_VERSION | NEO4J_SHUTDOWN_TIMEOUT) continue ;;
    esac
    key="${name#NEO4J_}"
    key="$(printf '%s' "$key" | sed 's/__/@@/g; s/_/./g; s/@@/_/g')"
    set_conf "$key" "${!name}"
  done < <(compgen -e | grep -E '^NEO4J_[A-Za-z0-9_]+$' || true)
}

configure_auth() {
  local auth="${NEO4J_AUTH:-}"
  if [ "$auth" = none ]; then
    set_conf dbms.security.auth_enabled false
    return
  fi
  set_conf dbms.security.auth_enabled true
  [ -n "$auth" ] || return 0
  local user="${auth%%/*}" password="${auth#*/}"
  if [ "$user" != neo4j ] || [ "$password" = "$auth" ]; then
    echo "Invalid value for NEO4J_AUTH: '$user/***'; expected neo4j/PASSWORD or none" >&2
    exit 1
  fi
  if [ "$password" = neo4j ]; then
    echo "Invalid value for password. It cannot be 'neo4j', which is the default." >&2
    exit 1
  fi
  # Only before the first start: later the system database owns the users.
  if [ -d /data/databases/system ]; then
    return
  fi
  # neo4j-admin takes the password only as a parameter: hand it over in a picocli @file
  # so that it never appears in a process's argv.
  local argfile esc
  argfile="$(mktemp "$NEO4J_HOME/run/.initial-password.XXXXXX")"
  chmod 600 "$argfile"
  esc="${password//\\/\\\\}"
  esc="${esc//\"/\\\"}"
  printf '"%s"\n' "$esc" >"$argfile"
  chown 7474:7474 "$argfile" 2>/dev/null || true
  local rc=0
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=7474 --regid=7474 --init-groups -- \
      "$NEO4J_HOME/bin/neo4j-admin" dbms set-initial-password "@$argfile" >/dev/null || rc=$?
  else
    "$NEO4J_HOME/bin/neo4j-admin" dbms set-initial-password "@$argfile" >/dev/null || rc=$?
  fi
  rm -f "$argfile"
  if [ "$rc" != 0 ]; then
    echo "neo4j-admin dbms set-initial-password failed ($rc)" >&2
    exit "$rc"
  fi
}

cmd="${1:-neo4j}"
if [ "$cmd" = neo4j ] && { [ $# -le 1 ] || [ "${2:-}" = console ]; }; then
  fix_ownership
  configure_from_env
  configure_auth
  fix_ownership
  as_neo4j "$NEO4J_HOME/bin/neo4j" console
fi

# Anything else (neo4j-admin ..., neo4j version, bash, ...): run it as given.
case "$cmd" in
  neo4j | neo4j-admin | cypher-shell)
    fix_ownership
    as_neo4j "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
