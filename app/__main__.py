"""`python -m app`: the API process, on the host and port from settings.

Settings are loaded first so a missing or invalid one stops the process with one line.
"""

import uvicorn

from app.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=settings.api_host,
        port=settings.api_port,
        access_log=False,
        # in public mode Caddy, on loopback, passes the caller's address on (X-Forwarded-For):
        # the per-address call limit then counts callers, not the proxy
        proxy_headers=bool(settings.public_host),
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
