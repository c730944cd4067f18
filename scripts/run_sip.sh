#!/usr/bin/env bash
# LiveKit's SIP service (the phone line), as supervisord's `sip` program runs it, next to the
# embedded LiveKit server and Redis. Local mode: SIP and RTP on loopback. Public mode
# (PUBLIC_HOST set): on every interface, advertising PUBLIC_IP (or PUBLIC_HOST when that is an
# address), so a SIP trunk provider can reach it (README, "The phone line").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

listen_ip=127.0.0.1
nat_ip=127.0.0.1
if [ -n "${PUBLIC_HOST:-}" ]; then
  listen_ip=0.0.0.0
  nat_ip="${PUBLIC_IP:-}"
  if [ -z "$nat_ip" ] && [[ "$PUBLIC_HOST" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    nat_ip="$PUBLIC_HOST"
  fi
fi
if [ -n "$nat_ip" ]; then
  address="nat_1_to_1_ip: $nat_ip"
else
  address="use_external_ip: true"
fi

mkdir -p "$ROOT/data/sip"
config="$ROOT/data/sip/livekit-sip.yaml"
umask 077
cat > "$config" <<YAML
# written by scripts/run_sip.sh
api_key: '${LIVEKIT_API_KEY:?}'
api_secret: '${LIVEKIT_API_SECRET:?}'
ws_url: '${LIVEKIT_URL:?}'
redis:
  address: 127.0.0.1:${REDIS_PORT:-6380}
  password: '${REDIS_PASSWORD:-}'
sip_port: ${SIP_PORT:-5060}
listen_ip: $listen_ip
$address
rtp_port: ${SIP_RTP_PORT_START:-10000}-${SIP_RTP_PORT_END:-10100}
# a call costs little CPU here; the default (0.9 of the machine) refuses calls on a busy 2-core box
max_cpu_utilization: 1.0
logging:
  level: info
YAML
exec "$ROOT/bin/livekit-sip" --config "$config"
