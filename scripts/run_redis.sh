#!/usr/bin/env bash
# Redis for the phone line, as supervisord's `redis` program runs it: the SIP service and the
# embedded LiveKit server share it (LiveKit keeps SIP trunks and dispatch rules in it). Loopback
# only; the append-only file in data/redis keeps the trunks across a restart or a crash.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$ROOT/data/redis"
exec redis-server --bind 127.0.0.1 --port "${REDIS_PORT:-6380}" --protected-mode yes \
  --dir "$ROOT/data/redis" --save "" --appendonly yes --appendfsync everysec \
  --logfile "" --loglevel notice
