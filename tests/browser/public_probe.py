"""What a host on the internet sees of the public bundle, run inside the client namespace.

`python -m tests.browser.public_probe HOST [tls:PORT...]` prints JSON with every TCP port of
HOST that accepts a connection (all 65,535 tried); the answer to `http://HOST/`; `POST
https://HOST/api/calls`; and, for each `tls:PORT`, whether a TLS handshake completes (TURN).
`python -m tests.browser.public_probe HOST --calls N` only starts N calls and prints their
statuses."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import sys

import httpx


async def listening(host: str, concurrency: int = 400) -> list[int]:
    """Every TCP port of `host` that accepts a connection (a closed one answers with a reset
    at once on this link)."""
    gate = asyncio.Semaphore(concurrency)

    async def accepts(port: int) -> int | None:
        async with gate:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3)
            except (OSError, TimeoutError):
                return None
            writer.close()
            return port

    found = await asyncio.gather(*(accepts(port) for port in range(1, 65536)))
    return [port for port in found if port is not None]


def tls_handshake(host: str, port: int) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=3) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                return True
    except OSError:
        return False


def main(host: str, ports: list[str]) -> dict:
    result: dict = {"listening": asyncio.run(listening(host)), "tls": {}}
    for port in ports:
        result["tls"][port.removeprefix("tls:")] = tls_handshake(host, int(port[4:]))
    plain = httpx.get(f"http://{host}/", timeout=10)
    result["http"] = {"status": plain.status_code, "location": plain.headers.get("location")}
    started = httpx.post(f"https://{host}/api/calls", json={}, verify=False, timeout=10)
    result["call"] = {"status": started.status_code, "body": started.json()}
    # LiveKit's server API and worker registration: not passed through without remote workers
    twirp = httpx.post(
        f"https://{host}/twirp/livekit.RoomService/ListRooms", json={}, verify=False, timeout=10
    )
    result["twirp"] = {"status": twirp.status_code, "body": twirp.text[:300]}
    return result


def start_calls(host: str, count: int) -> list[int]:
    return [
        httpx.post(f"https://{host}/api/calls", json={}, verify=False, timeout=10).status_code
        for _ in range(count)
    ]


if __name__ == "__main__":
    if sys.argv[2:3] == ["--calls"]:
        print(json.dumps(start_calls(sys.argv[1], int(sys.argv[3]))))
    else:
        print(json.dumps(main(sys.argv[1], sys.argv[2:])))
