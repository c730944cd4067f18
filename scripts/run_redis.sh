#!/usr/bin/env bash
# Redis for the phone line, as supervisord's `redis` program runs it: the SIP service and the
# embedded LiveKit server share it (LiveKit keeps SIP trunks and dispatch rules in it). Loopback
# only; the append-only file in data/redis keeps the trunks across a restart or a crash.
# With REDIS_PASSWORD (start_all.sh generates one) clients must authenticate; the password and
# the data (the trunks' credentials) are readable by this user only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
umask 077
mkdir -p "$ROOT/data/redis"
chmod 700 "$ROOT/data/redis"
config="$ROOT/data/redis/redis.conf"
cat > "$config" <<CONF
bind 127.0.0.1
port ${REDIS_PORT:-6380}
protected-mode yes
dir $ROOT/data/redis
save ""
appendonly yes
appendfsync everysec
logfile ""
loglevel notice
CONF
if [ -n "${REDIS_PASSWORD:-}" ]; then
  echo "requirepass $REDIS_PASSWORD" >> "$config"
fi
exec redis-server "$config"
