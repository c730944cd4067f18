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
  echo "==> created .env from .env.example"
fi
chmod 600 .env  # it holds the keys
env_value() { grep -E "^$1=" .env | tail -n 1 | cut -d= -f2- | tr -d '"' || true; }
put_env() { sed -i "/^$1=/d" .env; echo "$1=$2" >> .env; }
is_off() { [[ "$(tr '[:upper:]' '[:lower:]' <<<"$1")" =~ ^(false|0|no|off)$ ]]; }

# What runs here (README, "Deployment shapes"): the API with the CRM file (RUN_API), an agent
# worker (RUN_WORKER), or both, as in the single container.
: "${RUN_API:=$(env_value RUN_API)}"
: "${RUN_WORKER:=$(env_value RUN_WORKER)}"
if is_off "${RUN_API:-true}"; then RUN_API=false; else RUN_API=true; fi
if is_off "${RUN_WORKER:-true}"; then RUN_WORKER=false; else RUN_WORKER=true; fi
export RUN_API RUN_WORKER
if [ "$RUN_API" = false ] && [ "$RUN_WORKER" = false ]; then
  echo "RUN_API and RUN_WORKER are both false: nothing to run" >&2
  exit 1
fi

if [ "$RUN_API" = true ] && ! grep -qE '^OPERATOR_API_KEY=.{16,}' .env && [ -z "${OPERATOR_API_KEY:-}" ]; then
  key="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
  if grep -q '^OPERATOR_API_KEY=' .env; then
    sed -i "s|^OPERATOR_API_KEY=.*|OPERATOR_API_KEY=$key|" .env
  else
    echo "OPERATOR_API_KEY=$key" >> .env
  fi
  echo "==> generated an operator key into .env (OPERATOR_API_KEY)"
fi

# Workers on other machines (README, "Deployment shapes") are on only when the core has a
# WORKER_SERVICE_KEY: then Caddy also passes LiveKit's /agent and /twirp through for them.
if [ -n "${WORKER_SERVICE_KEY:-$(env_value WORKER_SERVICE_KEY)}" ]; then
  export REMOTE_WORKERS=true
else
  export REMOTE_WORKERS=false
fi

# An external LiveKit server when LIVEKIT_URL is set (environment or .env), else embedded.
: "${LIVEKIT_URL:=$(env_value LIVEKIT_URL)}"
if [ -z "$LIVEKIT_URL" ] && [ "$RUN_API" = false ]; then
  echo "a worker-only container (RUN_API=false) needs LIVEKIT_URL: the core's LiveKit server or your cluster's (README, \"Deployment shapes\")" >&2
  exit 1
fi
if [ -z "$LIVEKIT_URL" ]; then
  export LIVEKIT_EMBEDDED=true
  export LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret
  echo "==> no LIVEKIT_URL configured: using the embedded LiveKit server on $LIVEKIT_URL"
else
  export LIVEKIT_EMBEDDED=false LIVEKIT_URL
fi

# Public mode (PUBLIC_HOST set): Caddy serves HTTPS on 443 for everything, LiveKit's media
# ports are opened to callers, the API stays on loopback behind Caddy, and the embedded LiveKit
# server gets a generated key pair (the dev pair would let anyone use it).
: "${PUBLIC_HOST:=$(env_value PUBLIC_HOST)}"
if [ -n "$PUBLIC_HOST" ] && [ "$RUN_API" = false ]; then
  echo "==> PUBLIC_HOST ignored: a worker-only container serves no one (RUN_API=false)"
  PUBLIC_HOST=""
fi
if [ -n "$PUBLIC_HOST" ]; then
  export PUBLIC_MODE=true PUBLIC_HOST API_HOST=127.0.0.1
  # what scripts/run_caddy.sh and scripts/run_livekit.sh read, from .env unless set already
  for name in PUBLIC_IP PUBLIC_TLS PUBLIC_ACME_EMAIL PUBLIC_TURN_TLS_PORT API_PORT LIVEKIT_RTC_TCP_PORT LIVEKIT_RTC_PORT_RANGE_START \
      LIVEKIT_RTC_PORT_RANGE_END; do
    value="${!name:-$(env_value "$name")}"
    if [ -n "$value" ]; then export "$name=$value"; fi
  done
  if [ "$LIVEKIT_EMBEDDED" = true ]; then
    secret="$(env_value LIVEKIT_API_SECRET)"
    if [ "${#secret}" -lt 32 ]; then
      secret="$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)"
      put_env LIVEKIT_API_KEY "ornina-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
      put_env LIVEKIT_API_SECRET "$secret"
      echo "==> public mode: generated a LiveKit key pair into .env"
    fi
    export LIVEKIT_API_KEY="$(env_value LIVEKIT_API_KEY)" LIVEKIT_API_SECRET=$secret
  fi
  echo "==> public mode: https://$PUBLIC_HOST/ (open TCP 80, 443, ${LIVEKIT_RTC_TCP_PORT:-7881} and UDP ${LIVEKIT_RTC_PORT_RANGE_START:-50000}-${LIVEKIT_RTC_PORT_RANGE_END:-50100}${PUBLIC_TURN_TLS_PORT:+, TCP $PUBLIC_TURN_TLS_PORT for TURN/TLS})"
else
  export PUBLIC_MODE=false
fi

# The phone line (LiveKit's SIP service with Redis) runs beside the embedded LiveKit server
# unless SIP_ENABLED=false; with an external server, its own SIP service answers calls.
: "${SIP_ENABLED:=$(env_value SIP_ENABLED)}"
sip_enabled="$(tr '[:upper:]' '[:lower:]' <<<"${SIP_ENABLED:-true}")"
: "${SIP_AUTH_USERNAME:=$(env_value SIP_AUTH_USERNAME)}"
if [ "$LIVEKIT_EMBEDDED" = true ] && [ "$PUBLIC_MODE" = true ] && [[ ! "$sip_enabled" =~ ^(false|0|no|off)$ ]] \
    && [ -z "$SIP_AUTH_USERNAME" ]; then
  # on the internet a trunk without digest authentication would answer anyone
  echo "==> phone line off: in public mode it needs SIP_AUTH_USERNAME and SIP_AUTH_PASSWORD (README, \"The phone line\")"
  sip_enabled=false
fi
if [ "$LIVEKIT_EMBEDDED" = true ] && [[ ! "$sip_enabled" =~ ^(false|0|no|off)$ ]]; then
  export PHONE_LINE=true
  # what scripts/run_sip.sh and scripts/run_redis.sh read, from .env unless set already
  for name in SIP_PORT SIP_LINES SIP_RTP_PORT_START SIP_RTP_PORT_END REDIS_PORT; do
    value="${!name:-$(env_value "$name")}"
    if [ -n "$value" ]; then export "$name=$value"; fi
  done
  # Redis holds the trunks' credentials: a generated password keeps other local users out
  redis_password="$(env_value REDIS_PASSWORD)"
  if [ -z "${REDIS_PASSWORD:-}" ] && [ "${#redis_password}" -lt 16 ]; then
    redis_password="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
    put_env REDIS_PASSWORD "$redis_password"
    echo "==> generated a Redis password into .env (REDIS_PASSWORD)"
  fi
  export REDIS_PASSWORD="${REDIS_PASSWORD:-$redis_password}"
  line="${SIP_LINES:-+15550100}"; line="${line%%,*}"; line="${line%%=*}"
  if [ "$PUBLIC_MODE" = true ]; then
    echo "==> phone line on: for your SIP trunk provider open UDP and TCP ${SIP_PORT:-5060} and UDP ${SIP_RTP_PORT_START:-10000}-${SIP_RTP_PORT_END:-10100} (README, \"The phone line\")"
  else
    echo "==> phone line on: a softphone on this machine can dial sip:$line@127.0.0.1:${SIP_PORT:-5060} (README, \"The phone line\")"
  fi
else
  export PHONE_LINE=false
fi

LIVEKIT_URL="$([ "$LIVEKIT_EMBEDDED" = true ] && echo "" || echo "$LIVEKIT_URL")" \
  PUBLIC_MODE="$PUBLIC_MODE" PHONE_LINE="$PHONE_LINE" scripts/bootstrap.sh

.venv/bin/python -m app.preflight

echo "==> starting supervisord (logs in logs/, status: .venv/bin/supervisorctl -c supervisord.conf status)"
exec .venv/bin/supervisord -c supervisord.conf
