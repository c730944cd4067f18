#!/usr/bin/env bash
# Build LiveKit's SIP service (the phone line) into <project>/bin/livekit-sip.
#
# Pinned: github.com/livekit/sip v1.8.0, whose SIP RPC protobufs match livekit-server v1.13.5.
# `go install ...@v1.8.0` does not work behind a module proxy that refuses the version list, so
# the module is downloaded at the pinned version, copied somewhere writable and built there.
# cgo needs pkg-config, libopus-dev, libopusfile-dev and libsoxr-dev (scripts/bootstrap.sh).
#
# Skips the build when bin/livekit-sip was built from the pinned version (bin/.livekit-sip.version).
# `--check` only answers whether it is (exit 0) or not (exit 1).
set -euo pipefail

SIP_VERSION="1.8.0"
MODULE="github.com/livekit/sip"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/bin"
TARGET="$BIN_DIR/livekit-sip"
STAMP="$BIN_DIR/.livekit-sip.version"

installed() { [[ -x "$TARGET" && -f "$STAMP" && "$(cat "$STAMP")" == "$SIP_VERSION" ]]; }

if [ "${1:-}" = "--check" ]; then
    installed
    exit
fi
if installed; then
    echo "livekit-sip v$SIP_VERSION already installed at $TARGET"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "error: 'go' not found: install Go >= 1.23 to build livekit-sip v$SIP_VERSION (the phone line), or set SIP_ENABLED=false" >&2
    exit 1
fi

mkdir -p "$BIN_DIR"
exec 9>"$BIN_DIR/.livekit-sip.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    if installed; then
        echo "livekit-sip v$SIP_VERSION already installed at $TARGET"
        exit 0
    fi
fi

BUILD_DIR="$(mktemp -d "$BIN_DIR/.build-sip.XXXXXX")"
trap 'chmod -R u+w "$BUILD_DIR" 2>/dev/null; rm -rf "$BUILD_DIR"' EXIT

echo "building livekit-sip v$SIP_VERSION (first run only, a minute or two)..."
start=$SECONDS
module_dir="$(go mod download -json "$MODULE@v$SIP_VERSION" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
if [[ -z "$module_dir" || ! -d "$module_dir" ]]; then
    echo "error: could not download $MODULE@v$SIP_VERSION (needs the Go module proxy)" >&2
    exit 1
fi
cp -r "$module_dir" "$BUILD_DIR/src"
chmod -R u+w "$BUILD_DIR/src"
(cd "$BUILD_DIR/src" && CGO_ENABLED=1 GOTOOLCHAIN=local go build -trimpath -o "$BUILD_DIR/livekit-sip" ./cmd/livekit-sip)
mv -f "$BUILD_DIR/livekit-sip" "$TARGET"
echo "$SIP_VERSION" > "$STAMP"
echo "livekit-sip v$SIP_VERSION installed at $TARGET ($((SECONDS - start)) s)"
