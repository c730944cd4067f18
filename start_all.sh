#!/usr/bin/env bash
# Runs the Ornina call center: API + agent worker (+ an embedded LiveKit server when no
# LIVEKIT_URL is configured) under supervisord, in the foreground. Ctrl-C stops everything.
# On a fresh machine it first installs what it needs; later runs reuse it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
mkdir -p logs data

# .env: created from the example on first run, with a generated operator key.
if [ ! -f .env ]; then
  cp .env.example .env
  chmod 600 .env
  echo "==> created .env from .env.example"
fi
if ! grep -qE '^OPERATOR_API_KEY=.{16,}' .env && [ -z "${OPERATOR_API_KEY:-}" ]; then
  key="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
  if grep -q '^OPERATOR_API_KEY=' .env; then
    sed -i "s|^OPERATOR_API_KEY=.*|OPERATOR_API_KEY=$key|" .env
  else
    echo "OPERATOR_API_KEY=$key" >> .env
  fi
  echo "==> generated an operator key into .env (OPERATOR_API_KEY)"
fi

# An external LiveKit server when LIVEKIT_URL is set (environment or .env), else embedded.
env_value() { grep -E "^$1=" .env | tail -n 1 | cut -d= -f2- | tr -d '"' || true; }
: "${LIVEKIT_URL:=$(env_value LIVEKIT_URL)}"
if [ -z "$LIVEKIT_URL" ]; then
  export LIVEKIT_EMBEDDED=true
  export LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret
  echo "==> no LIVEKIT_URL configured: using the embedded LiveKit server on $LIVEKIT_URL"
else
  export LIVEKIT_EMBEDDED=false LIVEKIT_URL
fi

LIVEKIT_URL="$([ "$LIVEKIT_EMBEDDED" = true ] && echo "" || echo "$LIVEKIT_URL")" \
  scripts/bootstrap.sh

.venv/bin/python -m app.preflight

echo "==> starting supervisord (logs in logs/, status: .venv/bin/supervisorctl -c supervisord.conf status)"
exec .venv/bin/supervisord -c supervisord.conf
