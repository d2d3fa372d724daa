#!/usr/bin/env bash
# Builds the test image qnb-test/qnb:<hash-free tag> from the repository's Dockerfile without any
# image registry (the user-facing build is `docker build .` on node:20-bookworm-slim):
#   - test base qnb-test/node20-base: the cached Debian bookworm rootfs of build-rootfs.sh (the
#     Neo4j test image's; its JRE left out) + this machine's Node.js 20 binary (`node` on PATH);
#   - .qnb-prebuilt/ in a temporary build context: dist/ (`npm run build`, skipped with
#     QNB_SKIP_NPM_BUILD=1 when the caller just built), production node_modules (a copy of
#     node_modules pruned with `npm prune --omit=dev`, offline, cached per package-lock.json) and
#     this machine's docker CLI (Debian's docker.io);
#   - `docker build --target prebuilt --build-arg NODE_IMAGE=<test base> --network host`.
# Skips the build when the image exists with the same build hash (label qnb.build: every input).
# QNB_IMAGE names another tag. Needs a Docker Engine: DOCKER_HOST (default: the private engine of
# start-dockerd.sh). Root only (build-rootfs.sh). Prints the image name.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd "$HERE/../.." && pwd -P)"
IMAGE="${QNB_IMAGE:-qnb-test/qnb:latest}"
BASE_IMAGE_NAME="qnb-test/node20-base"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/qnb-test-docker.sock}"
DOCKER="${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}"
NODE_BIN="$(readlink -f "$(command -v node)")"
CACHE_ROOT="${QNB_CACHE_DIR:-$HOME/.cache/qnb}/docker"
log() { echo "build-qnb-image: $*" >&2; }

case "$("$NODE_BIN" --version)" in
  v20.*) ;;
  *) log "needs Node.js 20 on PATH (found $("$NODE_BIN" --version))"; exit 1 ;;
esac

cd "$REPO"
if [ -z "${QNB_SKIP_NPM_BUILD:-}" ] || [ ! -f dist/cli/main.js ]; then
  log "npm run build"
  npm run build >&2
fi

start=$SECONDS
ROOTFS_TAR="$("$HERE/build-rootfs.sh")"

# 1. The test base: rootfs (without the JRE) + node. Tagged by what goes into it.
BASE_HASH="$(cat "$HERE/build-qnb-image.sh" <(stat -c '%s %Y' "$ROOTFS_TAR") <("$NODE_BIN" --version) |
  sha256sum | cut -c1-16)"
BASE_IMAGE="$BASE_IMAGE_NAME:$BASE_HASH"
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  WORK_BASE="$(mktemp -d /var/tmp/qnb-node-base.XXXXXX)"
  trap 'rm -rf --one-file-system "$WORK_BASE"' EXIT
  tar -C "$WORK_BASE" -xf "$ROOTFS_TAR" --exclude='./usr/lib/jvm' --exclude='./usr/share/doc' \
    --exclude='./usr/share/man' --exclude='./usr/share/locale'
  install -m 0755 "$NODE_BIN" "$WORK_BASE/usr/local/bin/node"
  log "importing $BASE_IMAGE"
  tar -C "$WORK_BASE" --numeric-owner -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL qnb.build=$BASE_HASH" \
    --change 'CMD ["node"]' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf --one-file-system "$WORK_BASE"
  trap - EXIT
  # older test bases are unused now
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' "$BASE_IMAGE_NAME" | grep -vxF "$BASE_IMAGE" |
    xargs -r "$DOCKER" image rm >/dev/null 2>&1 || true
fi

# 2. Production node_modules, cached per package-lock.json.
LOCK_HASH="$(cat package-lock.json package.json | sha256sum | cut -c1-16)"
MODULES="$CACHE_ROOT/qnb-prod-modules-$LOCK_HASH"
if [ ! -d "$MODULES/node_modules" ]; then
  log "production node_modules (npm prune --omit=dev, offline)"
  mkdir -p "$CACHE_ROOT"
  TMP_MODULES="$(mktemp -d "$CACHE_ROOT/.qnb-prod-modules.XXXXXX")"
  cp package.json package-lock.json "$TMP_MODULES/"
  cp -a "$(readlink -f node_modules)" "$TMP_MODULES/node_modules"
  (cd "$TMP_MODULES" && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund >&2)
  rm -rf "$MODULES"
  mv "$TMP_MODULES" "$MODULES"
  find "$CACHE_ROOT" -maxdepth 1 -name 'qnb-prod-modules-*' ! -name "qnb-prod-modules-$LOCK_HASH" \
    -exec rm -rf {} + 2>/dev/null || true
fi

# 3. The image, unless it is there with the same inputs.
DOCKER_CLI="$(readlink -f "$DOCKER")"
BUILD_HASH="$(
  {
    echo "$BASE_IMAGE $LOCK_HASH"
    cat Dockerfile .dockerignore "$HERE/build-qnb-image.sh" docker/*
    sha256sum "$DOCKER_CLI" | cut -c1-64
    find dist -type f | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-16
)"
existing="$("$DOCKER" image inspect -f '{{index .Config.Labels "qnb.build"}}' "$IMAGE" 2>/dev/null || true)"
if [ "$existing" = "$BUILD_HASH" ] && [ -z "${QNB_REBUILD:-}" ]; then
  log "$IMAGE is up to date (build $BUILD_HASH)"
  echo "$IMAGE"
  exit 0
fi
old_id="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"

CTX="$(mktemp -d /var/tmp/qnb-image-ctx.XXXXXX)"
trap 'rm -rf --one-file-system "$CTX"' EXIT
cp Dockerfile .dockerignore package.json package-lock.json "$CTX/"
cp -a docker "$CTX/docker"
P="$CTX/.qnb-prebuilt"
mkdir -p "$P/opt/qnb" "$P/usr/local/bin"
cp -a dist package.json "$P/opt/qnb/"
cp -a "$MODULES/node_modules" "$P/opt/qnb/node_modules"
install -m 0755 "$DOCKER_CLI" "$P/usr/local/bin/docker"
chmod -R a+rX "$P"

log "building $IMAGE (build $BUILD_HASH) on $BASE_IMAGE"
"$DOCKER" build -q --network host --target prebuilt \
  --build-arg "NODE_IMAGE=$BASE_IMAGE" \
  --label "qnb.build=$BUILD_HASH" \
  -t "$IMAGE" "$CTX" >/dev/null
log "built $IMAGE in $((SECONDS - start)) s: $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" |
  awk '{ printf "%.0f MB", $1 / 1000000 }')"
if [ -n "$old_id" ] && [ "$old_id" != "$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  "$DOCKER" image rm "$old_id" >/dev/null 2>&1 || true
fi
echo "$IMAGE"
