"""``python -m tests.provider_double --host 127.0.0.1 --port 0``

Prints ``LISTENING <port>`` as the first stdout line (flushed) once the socket accepts
connections, then serves until SIGTERM/SIGINT. Nothing else is written to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys

from aiohttp import web

from .server import DEFAULT_SILENCE_RMS, build_app


async def _serve(host: str, port: int, silence_rms: float, access_log: bool) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)

    app = build_app(silence_rms=silence_rms)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("provider_double.access") if access_log else None,
        handle_signals=False,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    sys.stdout.write(f"LISTENING {sock.getsockname()[1]}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.provider_double",
        description="OpenAI-compatible provider double (chat, transcriptions, speech) for tests",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--silence-rms",
        type=float,
        default=DEFAULT_SILENCE_RMS,
        help="int16 RMS below which an upload is silence (default %(default)s)",
    )
    parser.add_argument("--access-log", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    asyncio.run(_serve(args.host, args.port, args.silence_rms, args.access_log))


if __name__ == "__main__":
    main()
