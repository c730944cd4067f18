#!/usr/bin/env bash
# Caddy, as supervisord's `caddy` program runs it in public mode (PUBLIC_HOST set): HTTPS on 443
# for the page, the dashboard, the API and the embedded LiveKit server's signalling (wss://
# .../rtc), all on one origin; HTTP on 80 redirects to it.
# Certificates: automatic (ACME) for a public name; Caddy's internal CA for an IP address, a
# name that is not public (.local, .internal, .test, .localhost, no dot) or PUBLIC_TLS=internal.
# Caddy keeps its certificates and CA under data/caddy.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${PUBLIC_HOST:?public mode needs PUBLIC_HOST}"

tls=""
case "${PUBLIC_TLS:-auto}" in
  internal) tls="tls internal" ;;
  auto)
    if [[ "$PUBLIC_HOST" =~ ^[0-9.]+$ || "$PUBLIC_HOST" != *.* \
          || "$PUBLIC_HOST" =~ \.(local|internal|test|localhost)$ ]]; then
      tls="tls internal"
    fi ;;
  *) echo "PUBLIC_TLS must be auto or internal" >&2; exit 1 ;;
esac

livekit=""
if [ "${LIVEKIT_EMBEDDED:-true}" = true ]; then
  # /rtc: callers' signalling. With REMOTE_WORKERS (a WORKER_SERVICE_KEY is set) also /agent,
  # workers on other machines registering (README, "Deployment shapes"), and /twirp, LiveKit's
  # server API those workers call (each request carries a JWT signed with LiveKit's secret)
  paths="/rtc /rtc/*"
  if [ "${REMOTE_WORKERS:-false}" = true ]; then paths="$paths /agent /agent/* /twirp/*"; fi
  livekit="@livekit path $paths
	reverse_proxy @livekit 127.0.0.1:${LIVEKIT_PORT:-7880}"
fi

mkdir -p "$ROOT/data/public" "$ROOT/data/caddy"
caddyfile="$ROOT/data/public/Caddyfile"
cat > "$caddyfile" <<CADDY
# written by scripts/run_caddy.sh for public mode (PUBLIC_HOST=$PUBLIC_HOST)
{
	admin off
	skip_install_trust
	storage file_system $ROOT/data/caddy
	${PUBLIC_ACME_EMAIL:+email $PUBLIC_ACME_EMAIL}
}

$PUBLIC_HOST {
	$tls
	encode gzip
	$livekit
	reverse_proxy 127.0.0.1:${API_PORT:-8000}
}
CADDY
export XDG_DATA_HOME="$ROOT/data" XDG_CONFIG_HOME="$ROOT/data"
exec caddy run --config "$caddyfile" --adapter caddyfile
