#!/usr/bin/env bash
# Builds (once) and caches a Debian bookworm minbase root file system with a Java 17 JRE and tini,
# as a tarball: ${QNB_CACHE_DIR:-$HOME/.cache/qnb}/docker/bookworm-minbase-jre17.tar
# Prints the tarball's path. Root only (debootstrap, chroot, mount).
# Uses Debian's default mirror (like apt); needs debootstrap (start-dockerd.sh installs it).
set -euo pipefail

CACHE_ROOT="${QNB_CACHE_DIR:-$HOME/.cache/qnb}"
OUT_DIR="$CACHE_ROOT/docker"
TARBALL="$OUT_DIR/bookworm-minbase-jre17.tar"
log() { echo "build-rootfs: $*" >&2; }

if [ -f "$TARBALL" ]; then
  echo "$TARBALL"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "must run as root"
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
fi

mkdir -p "$OUT_DIR"
exec 9>"$OUT_DIR/.rootfs.lock"
flock 9
if [ -f "$TARBALL" ]; then
  echo "$TARBALL"
  exit 0
fi

WORK="$(mktemp -d /var/tmp/qnb-rootfs.XXXXXX)"
ROOTFS="$WORK/rootfs"
cleanup() {
  if mountpoint -q "$ROOTFS/proc" 2>/dev/null; then umount "$ROOTFS/proc" || umount -l "$ROOTFS/proc" || true; fi
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

start=$SECONDS
log "debootstrap --variant=minbase bookworm (about a minute)"
debootstrap --variant=minbase bookworm "$ROOTFS" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
log "debootstrap done in $((SECONDS - start)) s; installing openjdk-17-jre-headless in the chroot"

# The JRE's maintainer scripts need /proc; without it apt exits 100.
mount -t proc proc "$ROOTFS/proc"
chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless tini >"$WORK/apt.log" 2>&1 ||
  { tail -n 30 "$WORK/apt.log" >&2; exit 1; }
chroot "$ROOTFS" apt-get clean
umount "$ROOTFS/proc"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/tmp/* "$ROOTFS"/var/log/*.log
# Use the resolver of whoever runs the container (docker bind-mounts its own /etc/resolv.conf).
: >"$ROOTFS/etc/resolv.conf"

tar -C "$ROOTFS" --numeric-owner -cf "$TARBALL.tmp" .
mv "$TARBALL.tmp" "$TARBALL"
log "rootfs tarball ($(du -h "$TARBALL" | cut -f1)) built in $((SECONDS - start)) s"
echo "$TARBALL"
