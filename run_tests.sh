#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then lints and tests.
# Every server a test needs (LiveKit, API, worker, provider double) is started by the tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
scripts/bootstrap.sh --dev
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
