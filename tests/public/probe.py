"""What a host on the internet sees of the public bundle, run inside the client namespace:
`python -m tests.public.probe HOST PORT...` prints JSON with, per TCP port, whether it accepts
a connection; the answer to `http://HOST/`; `POST https://HOST/api/calls`; and, for ports given
as `tls:PORT`, whether a TLS handshake completes (TURN over TLS)."""

from __future__ import annotations

import json
import socket
import ssl
import sys

import httpx


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


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
    result: dict = {"tcp": {}, "tls": {}}
    for port in ports:
        if port.startswith("tls:"):
            result["tls"][port[4:]] = tls_handshake(host, int(port[4:]))
        else:
            result["tcp"][port] = accepts(host, int(port))
    plain = httpx.get(f"http://{host}/", timeout=10)
    result["http"] = {"status": plain.status_code, "location": plain.headers.get("location")}
    started = httpx.post(f"https://{host}/api/calls", json={}, verify=False, timeout=10)
    result["call"] = {"status": started.status_code, "body": started.json()}
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
