#!/usr/bin/env bash
# Installs what the call center needs on a fresh machine, and skips what is already there:
# Debian packages, the Python venv with pinned requirements, the LiveKit server build and, for
# the phone line, LiveKit's SIP service.
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
# The call page's JavaScript comes from npm; the browser tests drive Debian's Chromium, with a
# font that has Arabic glyphs for the screenshots.
command -v npm >/dev/null || APT_PACKAGES+=(npm)
[ "$DEV" = 1 ] && APT_PACKAGES+=(chromium fonts-noto-ui-core)
# Public mode serves HTTPS through Caddy; the tests of public mode build network namespaces.
{ [ "$DEV" = 1 ] || [ "${PUBLIC_MODE:-false}" = true ]; } && APT_PACKAGES+=(caddy)
[ "$DEV" = 1 ] && APT_PACKAGES+=(iproute2)
# The phone line: Redis, and what LiveKit's SIP service is built with (cgo); the tests call it
# with real SIP clients (baresip, SIPp).
PHONE=0
{ [ "$DEV" = 1 ] || [ "${PHONE_LINE:-false}" = true ]; } && PHONE=1
[ "$PHONE" = 1 ] && APT_PACKAGES+=(redis-server)
if [ "$PHONE" = 1 ] && ! scripts/install_livekit_sip.sh --check; then
  APT_PACKAGES+=(pkg-config libopus-dev libopusfile-dev libsoxr-dev)
fi
[ "$DEV" = 1 ] && APT_PACKAGES+=(baresip-core sip-tester)
# The benchmarks' second English caller voice (bench/voices.py).
[ "$DEV" = 1 ] && APT_PACKAGES+=(flite)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "please install these packages with your package manager: ${missing[*]}" >&2
    exit 1
  fi
  step "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's caddy package enables its own service, on port 80; the bundle runs Caddy itself.
if [ -d /run/systemd/system ] && systemctl is-enabled caddy >/dev/null 2>&1; then
  step "disabling Debian's caddy service (the call center runs its own Caddy under supervisord)"
  $SUDO systemctl disable --now caddy
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
# LiveKit's SIP service, for the phone line.
if [ "$PHONE" = 1 ]; then
  scripts/install_livekit_sip.sh
fi

# --- browser vendor files (call page) ---------------------------------------------------------
# livekit-client from npm (pinned in package-lock.json), copied into app/static/vendor/, which
# the API serves: no CDN. Redone only when the lock file changes.
if [ -f package-lock.json ]; then
  vendor_stamp="app/static/vendor/.installed-$(sha256sum package-lock.json | cut -c1-16)"
  if [ ! -f "$vendor_stamp" ]; then
    step "installing the call page's JavaScript packages (npm ci)"
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    rm -rf app/static/vendor
    mkdir -p app/static/vendor
    cp node_modules/livekit-client/dist/livekit-client.esm.mjs app/static/vendor/livekit-client.esm.js
    cp node_modules/livekit-client/LICENSE app/static/vendor/livekit-client.LICENSE
    touch "$vendor_stamp"
  fi
fi
# --- end of browser vendor files -----------------------------------------------------------------
