#!/usr/bin/env bash
# Installs what the call center needs on a fresh machine, and skips what is already there:
# Debian packages, the Python venv with pinned requirements, the LiveKit server build.
# Usage: scripts/bootstrap.sh [--dev]   (--dev adds the test tools)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

step() { printf '==> %s\n' "$*"; }

# Debian packages: espeak-ng speaks the local notice (and the test caller's voice).
APT_PACKAGES=(espeak-ng)
[ "$DEV" = 1 ] && APT_PACKAGES+=(sox)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "please install these packages with your package manager: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  step "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python venv with the pinned requirements; reinstalled only when a requirements file changes.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
REQ=requirements.txt
[ "$DEV" = 1 ] && REQ=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$DEV"
if [ ! -f "$stamp" ]; then
  if [ ! -x .venv/bin/python ]; then
    step "creating the Python virtual environment in .venv"
    "$PYTHON" -m venv .venv
  fi
  step "installing Python packages from $REQ (first run takes a minute or two)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --progress-bar off -r "$REQ"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The embedded LiveKit server, unless an external one is configured.
if [ -z "${LIVEKIT_URL:-}" ] || [ "$DEV" = 1 ]; then
  scripts/install_livekit_server.sh
fi
