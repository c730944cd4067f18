"""`python -m app.healthcheck`: the container's health (Dockerfile HEALTHCHECK), from the
`/readyz` of what this container runs: the API's (RUN_API), else the worker's own."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from app.settings import SettingsError, get_settings


def readyz_url() -> str:
    settings = get_settings()
    if settings.run_api:
        return f"http://127.0.0.1:{settings.api_port}/readyz"
    return f"{settings.agent_health_url}/readyz"


def main() -> int:
    try:
        url = readyz_url()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(url, timeout=4):
            return 0
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
