#!/usr/bin/env bash
# Build the embedded LiveKit server into <project>/bin/livekit-server.
#
# Pinned: github.com/livekit/livekit-server/cmd/server@v1.13.5 (its go.mod needs Go >= 1.26 and
# has no replace directives, so a plain `go install pkg@version` works). The Go module and build
# caches are the user's defaults, so a second build (or a CI cache) is quick.
#
# Skips the build when bin/livekit-server already reports the pinned version.
# Without Go: set LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET to use an existing server.
set -euo pipefail

LIVEKIT_VERSION="1.13.5"
MODULE="github.com/livekit/livekit-server/cmd/server"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
BIN_DIR="$ROOT/bin"
TARGET="$BIN_DIR/livekit-server"

installed_version() {
    # prints e.g. "livekit-server version 1.13.5"
    "$TARGET" --version 2>/dev/null | awk '{print $NF}' || true
}

if [[ -x "$TARGET" && "$(installed_version)" == "$LIVEKIT_VERSION" ]]; then
    echo "livekit-server v$LIVEKIT_VERSION already installed at $TARGET"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "error: 'go' not found: install Go >= 1.26 (package manager or https://go.dev/dl/) to build livekit-server v$LIVEKIT_VERSION, or set LIVEKIT_URL/LIVEKIT_API_KEY/LIVEKIT_API_SECRET to use an existing LiveKit server" >&2
    exit 1
fi

go_version="$(go env GOVERSION 2>/dev/null || true)" # e.g. go1.26.8
go_minor="$(sed -nE 's/^go1\.([0-9]+).*/\1/p' <<<"$go_version")"
if [[ -n "$go_minor" && "$go_minor" -lt 26 ]]; then
    echo "note: $go_version found; livekit-server v$LIVEKIT_VERSION needs Go >= 1.26 (Go will try to fetch that toolchain itself unless GOTOOLCHAIN=local)" >&2
fi

mkdir -p "$BIN_DIR"

# One build at a time (start_all.sh and a test run may both call this).
exec 9>"$BIN_DIR/.livekit-server.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
    # another run may have finished the build while we waited
    if [[ -x "$TARGET" && "$(installed_version)" == "$LIVEKIT_VERSION" ]]; then
        echo "livekit-server v$LIVEKIT_VERSION already installed at $TARGET"
        exit 0
    fi
fi

# Build into a private directory so a half-written binary never appears as bin/livekit-server.
BUILD_DIR="$(mktemp -d "$BIN_DIR/.build.XXXXXX")"
trap 'rm -rf "$BUILD_DIR"' EXIT

echo "building livekit-server v$LIVEKIT_VERSION (first run only, a few minutes)..."
start=$SECONDS
if ! GOBIN="$BUILD_DIR" go install "$MODULE@v$LIVEKIT_VERSION"; then
    echo "error: building livekit-server v$LIVEKIT_VERSION failed (needs network for the first module download, or a filled Go module cache)" >&2
    exit 1
fi

mv -f "$BUILD_DIR/server" "$TARGET"
got="$(installed_version)"
if [[ "$got" != "$LIVEKIT_VERSION" ]]; then
    echo "error: built binary reports version '$got', expected $LIVEKIT_VERSION" >&2
    exit 1
fi
echo "livekit-server v$LIVEKIT_VERSION installed at $TARGET ($((SECONDS - start)) s)"
