#!/usr/bin/env bash
# Builds the local test image qnb-test/neo4j:<version> that behaves like the official neo4j:5.26
# image for what qnb does with it (see neo4j-entrypoint.sh and docs/neo4j.md), without any image
# registry:
#   Debian bookworm minbase + openjdk-17-jre-headless (build-rootfs.sh, cached tarball)
#   + tini as PID 1 (`tini -g --`, Debian's tini package: from the rootfs, else the host's)
#   + Neo4j Community jars from Maven (scripts/neo4j/fetch.sh) laid out by scripts/neo4j/make-home.sh
#     at /var/lib/neo4j (bin/neo4j, bin/neo4j-admin on PATH), data in VOLUME /data, logs in
#     VOLUME /logs, user neo4j uid/gid 7474; runnable with --user (home folders writable by all,
#     as the official image's chmod 777).
# Skips the build when the image exists with the same build hash (label qnb.build: a hash of
# every script and file that goes into the image, the entrypoint included).
# QNB_NEO4J_IMAGE names another tag (e.g. to try a changed entrypoint without touching the one
# other test runs use).
# Needs a Docker Engine: DOCKER_HOST (default: the private engine of start-dockerd.sh). Root only.
# Prints the image name.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
NEO4J_SCRIPTS="$(cd "$HERE/../neo4j" && pwd -P)"
VERSION="${NEO4J_VERSION:-5.26.30}"
IMAGE="${QNB_NEO4J_IMAGE:-qnb-test/neo4j:$VERSION}"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/qnb-test-docker.sock}"
DOCKER="${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}"
log() { echo "build-neo4j-image: $*" >&2; }

# Everything that goes into the image decides its hash.
BUILD_HASH="$(cat "$HERE/build-neo4j-image.sh" "$HERE/build-rootfs.sh" "$HERE/neo4j-entrypoint.sh" \
  "$NEO4J_SCRIPTS/make-home.sh" "$NEO4J_SCRIPTS/fetch.sh" "$NEO4J_SCRIPTS/neo4j" "$NEO4J_SCRIPTS/neo4j-admin" \
  "$NEO4J_SCRIPTS/pom.xml" <(echo "$VERSION") | sha256sum | cut -c1-16)"

existing="$("$DOCKER" image inspect -f '{{index .Config.Labels "qnb.build"}}' "$IMAGE" 2>/dev/null || true)"
if [ "$existing" = "$BUILD_HASH" ] && [ -z "${QNB_REBUILD:-}" ]; then
  log "$IMAGE is up to date (build $BUILD_HASH)"
  echo "$IMAGE"
  exit 0
fi

old_id="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
start=$SECONDS
ROOTFS_TAR="$("$HERE/build-rootfs.sh")"
NEO4J_VERSION="$VERSION" "$NEO4J_SCRIPTS/fetch.sh" >/dev/null

WORK="$(mktemp -d /var/tmp/qnb-neo4j-image.XXXXXX)"
trap 'rm -rf --one-file-system "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$ROOTFS_TAR"

# NEO4J_HOME, laid out exactly like a local test home, with the jars copied in.
NEO4J_AUTH=none QNB_NEO4J_COPY_LIB=1 NEO4J_VERSION="$VERSION" \
  "$NEO4J_SCRIPTS/make-home.sh" "$ROOT/var/lib/neo4j" 7687 >/dev/null
H="$ROOT/var/lib/neo4j"
rm -rf "$H/data"
ln -s /data "$H/data"
chmod -R a+rX "$H"
sed -i -e 's#^server.directories.data=.*#server.directories.data=/data#' \
  -e "s#^\# Neo4j .* test home made by .*#\# Neo4j $VERSION Community in qnb's test image (scripts/docker/build-neo4j-image.sh)#" \
  "$H/conf/neo4j.conf"
mkdir -p "$ROOT/data" "$ROOT/logs" "$ROOT/startup"
rm -rf "$H/logs"
ln -s /logs "$H/logs"
install -m 0755 "$HERE/neo4j-entrypoint.sh" "$ROOT/startup/docker-entrypoint.sh"

# tini, the official image's PID 1: Debian's static build (the rootfs may predate it).
if [ ! -x "$ROOT/usr/bin/tini" ]; then
  if [ ! -x /usr/bin/tini-static ]; then
    log "installing Debian's tini on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tini >&2 ||
      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tini >&2; }
  fi
  install -m 0755 /usr/bin/tini-static "$ROOT/usr/bin/tini"
fi

# User neo4j (uid/gid 7474, as in the official image), owner of /data, logs, run.
grep -q '^neo4j:' "$ROOT/etc/group" || echo 'neo4j:x:7474:' >>"$ROOT/etc/group"
grep -q '^neo4j:' "$ROOT/etc/passwd" ||
  echo 'neo4j:x:7474:7474:neo4j:/var/lib/neo4j:/bin/bash' >>"$ROOT/etc/passwd"
chown -R 7474:7474 "$ROOT/data" "$ROOT/logs" "$H"
# like the official image: writable by any --user, bin only executable
chmod -R 777 "$ROOT/data" "$ROOT/logs" "$H/run" "$H/conf" "$H/import" "$H/plugins"
chmod 777 "$H"

log "importing $IMAGE (build $BUILD_HASH)"
tar -C "$ROOT" --numeric-owner -c . | "$DOCKER" import \
  --change 'ENV PATH=/var/lib/neo4j/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NEO4J_HOME=/var/lib/neo4j' \
  --change 'ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'WORKDIR /var/lib/neo4j' \
  --change 'VOLUME ["/data", "/logs"]' \
  --change 'EXPOSE 7687' \
  --change "LABEL qnb.build=$BUILD_HASH" \
  --change "LABEL org.neo4j.version=$VERSION" \
  --change 'ENTRYPOINT ["tini", "-g", "--", "/startup/docker-entrypoint.sh"]' \
  --change 'CMD ["neo4j"]' \
  - "$IMAGE" >/dev/null
log "built $IMAGE in $((SECONDS - start)) s"
# The previous build is now untagged: remove it unless a container still uses it.
if [ -n "$old_id" ]; then
  "$DOCKER" image rm "$old_id" >/dev/null 2>&1 || true
fi
echo "$IMAGE"
