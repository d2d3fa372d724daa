#!/usr/bin/env bash
# Lays out a Neo4j 5.26 Community home that looks like an unpacked tarball:
#   HOME/bin/neo4j, HOME/bin/neo4j-admin   (wrappers running the bootloader classes)
#   HOME/lib -> the shared jar cache from fetch.sh (symlink; QNB_NEO4J_COPY_LIB=1 copies instead)
#   HOME/conf/neo4j.conf (+ server-logs.xml, user-logs.xml), HOME/{data,logs,run,plugins,import,licenses}
# and sets the initial password of user `neo4j` with `neo4j-admin dbms set-initial-password`.
#
#   NEO4J_PASSWORD=secret123 scripts/neo4j/make-home.sh HOME BOLT_PORT
#   scripts/neo4j/make-home.sh HOME BOLT_PORT PASSWORD      (password also accepted as 3rd argument)
#   NEO4J_AUTH=none scripts/neo4j/make-home.sh HOME BOLT_PORT   (authentication disabled)
#
# neo4j-admin only takes the password as a command-line parameter. To keep it out of every
# process's argv we hand it over in a picocli argument file (@FILE, mode 0600, deleted afterwards):
# the bootloader and the forked admin JVM both only ever see "@FILE".
# Refuses to touch a HOME that already has data/databases (never re-initialises a used home).
# Environment: NEO4J_VERSION, QNB_CACHE_DIR (see fetch.sh), NEO4J_HEAP (512m), NEO4J_HEAP_INITIAL (256m),
#   NEO4J_PAGECACHE (128m), NEO4J_FAST_SHUTDOWN=1 (Bolt's netty quiet period 0: `neo4j stop` takes ~3 s
#   instead of ~14 s; an internal setting, test homes only).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
usage() { echo "usage: [NEO4J_PASSWORD=pw] $0 HOME BOLT_PORT [PASSWORD]" >&2; exit 64; }
[ $# -ge 2 ] || usage
NHOME="$1"
BOLT_PORT="$2"
PASSWORD="${3:-${NEO4J_PASSWORD:-}}"
case "$BOLT_PORT" in '' | *[!0-9]*) usage ;; esac
if [ "${NEO4J_AUTH:-}" != none ] && [ -z "$PASSWORD" ]; then
  echo "make-home.sh: no password (set NEO4J_PASSWORD, pass it as 3rd argument, or NEO4J_AUTH=none)" >&2
  exit 64
fi
if [ -n "$PASSWORD" ] && [ "${#PASSWORD}" -lt 8 ]; then
  echo "make-home.sh: Neo4j needs a password of at least 8 characters" >&2
  exit 64
fi
if [ "$PASSWORD" = neo4j ]; then
  echo "make-home.sh: the password may not be 'neo4j'" >&2
  exit 64
fi

LIB_DIR="$("$HERE/fetch.sh")"
VERSION="$(sed -n 's/^version=//p' "$LIB_DIR/.qnb-complete")"

if [ -d "$NHOME/data/databases" ]; then
  echo "make-home.sh: $NHOME already holds databases; refusing to re-initialise it" >&2
  exit 1
fi
mkdir -p "$NHOME"
NHOME="$(cd "$NHOME" && pwd -P)"
mkdir -p "$NHOME"/{bin,conf,data,logs,run,plugins,import,licenses}
chmod 700 "$NHOME/data"
install -m 0755 "$HERE/neo4j" "$NHOME/bin/neo4j"
install -m 0755 "$HERE/neo4j-admin" "$NHOME/bin/neo4j-admin"
if [ -n "${QNB_NEO4J_COPY_LIB:-}" ]; then
  rm -rf "${NHOME:?}/lib"
  cp -r "$LIB_DIR" "$NHOME/lib"
else
  ln -sfn "$LIB_DIR" "$NHOME/lib"
fi
# The log configurations the tarball ships in conf/ are the built-in defaults of neo4j-logging.
unzip -p "$LIB_DIR/neo4j-logging-$VERSION.jar" default-server-logs.xml >"$NHOME/conf/server-logs.xml"
unzip -p "$LIB_DIR/neo4j-logging-$VERSION.jar" default-user-logs.xml >"$NHOME/conf/user-logs.xml"

AUTH_ENABLED=true
[ "${NEO4J_AUTH:-}" = none ] && AUTH_ENABLED=false
cat >"$NHOME/conf/neo4j.conf" <<CONF
# Neo4j $VERSION Community test home made by qnb's scripts/neo4j/make-home.sh
server.directories.data=data
server.directories.logs=logs
server.directories.run=run
server.directories.plugins=plugins
server.directories.import=import
server.directories.lib=lib

server.default_listen_address=127.0.0.1
server.default_advertised_address=127.0.0.1
server.bolt.enabled=true
server.bolt.listen_address=127.0.0.1:$BOLT_PORT
server.bolt.advertised_address=127.0.0.1:$BOLT_PORT
server.http.enabled=false
server.https.enabled=false
dbms.security.auth_enabled=$AUTH_ENABLED
dbms.usage_report.enabled=false

# Small machine (2 cores): explicit memory, otherwise Neo4j sizes itself from the host's RAM.
server.memory.heap.initial_size=${NEO4J_HEAP_INITIAL:-256m}
server.memory.heap.max_size=${NEO4J_HEAP:-512m}
server.memory.pagecache.size=${NEO4J_PAGECACHE:-128m}
# Do not preallocate 256 MiB transaction log files (dumps read them).
db.tx_log.preallocate=false

# JVM options of the distribution's default neo4j.conf (5.26), minus -XX:+AlwaysPreTouch.
server.jvm.additional=-XX:+UseG1GC
server.jvm.additional=-XX:-OmitStackTraceInFastThrow
server.jvm.additional=-XX:+UnlockExperimentalVMOptions
server.jvm.additional=-XX:+TrustFinalNonStaticFields
server.jvm.additional=-XX:+DisableExplicitGC
server.jvm.additional=-Djdk.nio.maxCachedBufferSize=1024
server.jvm.additional=-Dio.netty.tryReflectionSetAccessible=true
server.jvm.additional=-Djdk.tls.ephemeralDHKeySize=2048
server.jvm.additional=-Djdk.tls.rejectClientInitiatedRenegotiation=true
server.jvm.additional=-XX:FlightRecorderOptions=stackdepth=256
server.jvm.additional=-XX:+UnlockDiagnosticVMOptions
server.jvm.additional=-XX:+DebugNonSafepoints
server.jvm.additional=--add-opens=java.base/java.nio=ALL-UNNAMED
server.jvm.additional=--add-opens=java.base/java.io=ALL-UNNAMED
server.jvm.additional=--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
server.jvm.additional=--enable-native-access=ALL-UNNAMED
server.jvm.additional=-Dlog4j2.disable.jmx=true
server.jvm.additional=-Dlog4j.layout.jsonTemplate.maxStringLength=32768
CONF
if [ -n "${NEO4J_FAST_SHUTDOWN:-}" ] && [ "${NEO4J_FAST_SHUTDOWN}" != 0 ]; then
  cat >>"$NHOME/conf/neo4j.conf" <<'CONF'

# Test speed-up: the Bolt server otherwise waits 2 x 5 s (netty quiet period, bolt and bolt-local
# connectors) before it shuts down.
internal.dbms.bolt.netty_server_shutdown_quiet_period=0
internal.dbms.bolt.netty_server_shutdown_timeout=5s
CONF
fi

if [ "$AUTH_ENABLED" = true ]; then
  ARGFILE="$(mktemp "$NHOME/run/.initial-password.XXXXXX")"
  trap 'rm -f "$ARGFILE"' EXIT
  chmod 600 "$ARGFILE"
  # picocli argument file: one argument, quoted so that spaces/quotes survive.
  esc="${PASSWORD//\\/\\\\}"
  esc="${esc//\"/\\\"}"
  printf '"%s"\n' "$esc" >"$ARGFILE"
  if ! out="$(NEO4J_HOME="$NHOME" NEO4J_CONF="$NHOME/conf" HEAP_SIZE="${HEAP_SIZE:-128m}" \
      "$NHOME/bin/neo4j-admin" dbms set-initial-password "@$ARGFILE" 2>&1)"; then
    echo "$out" >&2
    echo "make-home.sh: neo4j-admin dbms set-initial-password failed" >&2
    exit 1
  fi
  rm -f "$ARGFILE"
  trap - EXIT
fi
echo "$NHOME"
