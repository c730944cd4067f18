"""`python -m app.healthcheck`: the container's health (Dockerfile HEALTHCHECK), from the
`/readyz` of what this container runs: the API's (RUN_API), else the worker's own.

It reads only the three settings it needs: the others (LIVEKIT_URL, keys) may come from
`start_all.sh` at run time, which a `docker exec`'d healthcheck does not inherit, and `/readyz`
itself reports what is missing.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.settings import PROJECT_ROOT, Settings

_DEFAULT = {name: field.default for name, field in Settings.model_fields.items()}


class HealthSettings(BaseSettings):
    """The three settings of app.settings.Settings the healthcheck reads, with their defaults."""

    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore")

    run_api: bool = _DEFAULT["run_api"]
    api_port: int = Field(default=_DEFAULT["api_port"], ge=1, le=65535)
    agent_health_url: str = _DEFAULT["agent_health_url"]


def readyz_url() -> str:
    env_file = os.environ.get("ORNINA_ENV_FILE", PROJECT_ROOT / ".env")
    settings = HealthSettings(_env_file=env_file)  # type: ignore[call-arg]
    if settings.run_api:
        return f"http://127.0.0.1:{settings.api_port}/readyz"
    return f"{settings.agent_health_url.rstrip('/')}/readyz"


def main() -> int:
    try:
        url = readyz_url()
    except ValidationError as error:
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
