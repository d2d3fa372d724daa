#!/usr/bin/env bash
# Installs the S3 server the tests use: versitygw, built from the Go module proxy at a pinned
# version into ~/.cache/qnb/bin (test/servers/s3/s3-server.ts looks there). Idempotent: does
# nothing when that version is already installed. Needs Go (on every machine of this project).
set -euo pipefail
VERSION="${VERSITYGW_VERSION:-v1.7.0}"
BIN_DIR="${QNB_BIN_DIR:-$HOME/.cache/qnb/bin}"
STAMP="$BIN_DIR/.versitygw-$VERSION"
if [ -x "$BIN_DIR/versitygw" ] && [ -f "$STAMP" ]; then
  echo "versitygw $VERSION already in $BIN_DIR"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "go is needed to build versitygw" >&2; exit 1; }
mkdir -p "$BIN_DIR"
start=$(date +%s)
GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
rm -f "$BIN_DIR"/.versitygw-*
touch "$STAMP"
echo "versitygw $VERSION installed in $BIN_DIR in $(( $(date +%s) - start )) s"
