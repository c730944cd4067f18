#!/usr/bin/env bash
# The embedded LiveKit server, as supervisord's `livekit` program runs it.
# Local mode: config/livekit.yaml, loopback only.
# Public mode (PUBLIC_HOST set): signalling stays on loopback (Caddy proxies wss:// on 443 to
# it), media is reachable: ICE/TCP on LIVEKIT_RTC_TCP_PORT and ICE/UDP on the port range, on
# every interface, advertised as PUBLIC_IP (or PUBLIC_HOST when that is an address; else
# discovered by STUN); the key pair comes from the environment (start_all.sh generates one);
# with PUBLIC_TURN_TLS_PORT set, LiveKit's TURN server over TLS with Caddy's certificate.
# With the phone line on (PHONE_LINE=true), Redis is shared with the SIP service.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIVEKIT="$ROOT/bin/livekit-server"
# With the phone line on, the server and the SIP service share Redis (multi-node mode).
redis=()
if [ "${PHONE_LINE:-false}" = true ]; then
  redis=(--redis-host "127.0.0.1:${REDIS_PORT:-6380}")
fi
if [ -z "${PUBLIC_HOST:-}" ]; then
  exec "$LIVEKIT" --config "$ROOT/config/livekit.yaml" "${redis[@]}"
fi

is_ip() { [[ "$1" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; }
node_ip="${PUBLIC_IP:-}"
if [ -z "$node_ip" ] && is_ip "$PUBLIC_HOST"; then node_ip="$PUBLIC_HOST"; fi
if [ -n "$node_ip" ]; then
  address="  use_external_ip: false
  node_ip: $node_ip"
else
  address="  use_external_ip: true"
fi

turn="turn:
  enabled: false"
if [ -n "${PUBLIC_TURN_TLS_PORT:-}" ]; then
  # Caddy's newest certificate for the host (its internal CA or ACME), once Caddy has one
  cert=""
  for _ in $(seq 1 120); do
    cert="$(find "$ROOT/data/caddy/certificates" -path "*/$PUBLIC_HOST/$PUBLIC_HOST.crt" \
      -printf '%T@ %p\n' 2>/dev/null | sort -nr | head -n 1 | cut -d' ' -f2- || true)"
    [ -n "$cert" ] && break
    sleep 0.5
  done
  if [ -n "$cert" ]; then
    turn="turn:
  enabled: true
  domain: $PUBLIC_HOST
  tls_port: $PUBLIC_TURN_TLS_PORT
  cert_file: $cert
  key_file: ${cert%.crt}.key"
  else
    # calls work without TURN; a caller behind strict NAT may not (Caddy's log says why)
    echo "no certificate from Caddy for $PUBLIC_HOST after 60 s: starting without TURN" >&2
  fi
fi

mkdir -p "$ROOT/data/public"
config="$ROOT/data/public/livekit.yaml"
umask 077
cat > "$config" <<YAML
# written by scripts/run_livekit.sh for public mode (PUBLIC_HOST=$PUBLIC_HOST)
port: ${LIVEKIT_PORT:-7880}
bind_addresses:
  - 127.0.0.1
rtc:
  tcp_port: ${LIVEKIT_RTC_TCP_PORT:-7881}
  port_range_start: ${LIVEKIT_RTC_PORT_RANGE_START:-50000}
  port_range_end: ${LIVEKIT_RTC_PORT_RANGE_END:-50100}
$address
  # the agent worker on this host connects over loopback
  enable_loopback_candidate: true
keys:
  '${LIVEKIT_API_KEY:?}': '${LIVEKIT_API_SECRET:?}'
$turn
logging:
  level: info
  pion_level: error
room:
  auto_create: true
  empty_timeout: 300
  departure_timeout: 20
YAML
exec "$LIVEKIT" --config "$config" "${redis[@]}"
