#!/usr/bin/env bash
# Fetches the jars of Neo4j Community 5.26.x (server + bootloader + neo4j-admin + cypher-shell)
# through Maven into a cache shared by every clone of the project, and prints the lib dir.
#
#   scripts/neo4j/fetch.sh            -> prints e.g. /root/.cache/qnb/neo4j-5.26.30/lib
#
# Environment: NEO4J_VERSION (default below), QNB_CACHE_DIR (default $HOME/.cache/qnb),
#              MAVEN_ARGS_EXTRA (extra args for mvn, e.g. -o for offline).
# Idempotent: a complete lib dir has a marker file (.qnb-complete); a second run only prints it.
# Concurrency-safe: an flock on the version dir; jars go to a temp dir that is renamed when complete.
set -euo pipefail

VERSION="${NEO4J_VERSION:-5.26.30}"
CACHE_ROOT="${QNB_CACHE_DIR:-$HOME/.cache/qnb}"
DIST_DIR="$CACHE_ROOT/neo4j-$VERSION"
LIB_DIR="$DIST_DIR/lib"
MARKER="$LIB_DIR/.qnb-complete"
POM="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/pom.xml"

log() { echo "fetch.sh: $*" >&2; }

if [ -f "$MARKER" ]; then
  echo "$LIB_DIR"
  exit 0
fi

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "$tool is missing (Neo4j $VERSION needs Java 17 or 21 and Maven: apt-get install openjdk-17-jdk-headless maven)"
    exit 1
  fi
done

mkdir -p "$DIST_DIR"
exec 9>"$DIST_DIR/.lock"
flock 9
# Another process may have finished while we waited for the lock.
if [ -f "$MARKER" ]; then
  echo "$LIB_DIR"
  exit 0
fi

TMP="$(mktemp -d "$DIST_DIR/lib.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
log "resolving org.neo4j.assembly:neo4j-community-standalone:$VERSION through Maven (first time: ~125 MB)"
# shellcheck disable=SC2086
if ! mvn -B -q -f "$POM" ${MAVEN_ARGS_EXTRA:-} \
    -Dneo4j.version="$VERSION" \
    dependency:copy-dependencies \
    -DincludeScope=runtime -DexcludeTypes=pom \
    -DoutputDirectory="$TMP" >"$DIST_DIR/mvn.log" 2>&1; then
  log "mvn failed; last lines of $DIST_DIR/mvn.log:"
  tail -n 30 "$DIST_DIR/mvn.log" >&2
  exit 1
fi

# Sanity: the pieces the server and neo4j-admin need.
for jar in "neo4j-$VERSION.jar" "neo4j-dbms-$VERSION.jar" "neo4j-command-line-$VERSION.jar" \
           "neo4j-server-$VERSION.jar" "neo4j-security-$VERSION.jar" "neo4j-consistency-check-$VERSION.jar"; do
  if [ ! -f "$TMP/$jar" ]; then
    log "resolved lib is missing $jar"
    exit 1
  fi
done

printf 'version=%s\njars=%s\nfetched=%s\n' "$VERSION" "$(find "$TMP" -maxdepth 1 -name "*.jar" | wc -l)" "$(date -u +%FT%TZ)" >"$TMP/.qnb-complete"
chmod 0755 "$TMP"
chmod 0644 "$TMP"/*.jar "$TMP/.qnb-complete"
rm -rf "$LIB_DIR"
mv "$TMP" "$LIB_DIR"
trap - EXIT
log "$(find "$LIB_DIR" -maxdepth 1 -name "*.jar" | wc -l) jars in $LIB_DIR"
echo "$LIB_DIR"
