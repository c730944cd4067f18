"""`python -m app.telephony show` prints the phone-line setup the settings ask for and what
LiveKit holds; `apply` creates or corrects it (idempotent); `--wait` first waits for LiveKit
and its SIP support to answer (supervisord's `telephony` program)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time

from livekit import api

from app.settings import SettingsError, load_settings
from app.telephony import provisioning

WAIT_SECONDS = 180.0
RETRY_SECONDS = 5.0
logger = logging.getLogger("ornina.telephony")


async def _lookup(settings, *, wait: bool) -> api.LiveKitAPI:  # noqa: ANN001
    deadline = time.monotonic() + (WAIT_SECONDS if wait else 0)
    while True:
        lk = settings.livekit_api()
        try:
            await provisioning.find(lk)
            return lk
        except Exception as error:
            await lk.aclose()
            if time.monotonic() >= deadline:
                raise SystemExit(f"LiveKit's SIP API does not answer: {error}") from None
            await asyncio.sleep(1.0)


async def _apply(lk: api.LiveKitAPI, settings, *, retry: bool):  # noqa: ANN001, ANN202
    """Apply; under supervisord (`--wait`) a refusal is retried every few seconds for a while
    (then the program exits 1 and supervisord starts it again), never in a tight loop."""
    deadline = time.monotonic() + (WAIT_SECONDS if retry else 0)
    while True:
        try:
            return await provisioning.apply(lk, settings)
        except Exception as error:
            if time.monotonic() >= deadline:
                raise SystemExit(f"could not apply the telephony setup: {error}") from None
            print(f"telephony not applied yet ({error}); retrying", file=sys.stderr, flush=True)
            await asyncio.sleep(RETRY_SECONDS)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.telephony", description=__doc__)
    parser.add_argument("command", choices=("show", "apply"))
    parser.add_argument("--wait", action="store_true", help="wait for LiveKit to answer first")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    lk = await _lookup(settings, wait=args.wait)
    try:
        if args.command == "apply":
            applied = await _apply(lk, settings, retry=args.wait)
            print(
                "telephony applied: "
                + (", ".join(applied.changed) + " created" if applied.changed else "unchanged"),
                flush=True,
            )
        report = {"wanted": provisioning.describe(settings), "livekit": await provisioning.find(lk)}
        print(json.dumps(report, indent=2, ensure_ascii=False), flush=True)
    finally:
        await lk.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
