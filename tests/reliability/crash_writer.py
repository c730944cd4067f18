"""A stand-in for the worker's recording path, for the data-safety tests: one call's CRM writes
made exactly as the recorder makes them (`agent.crm.LocalCallCrm` on its own thread, running the
store's `add_event` and `add_turn`), in a tight loop.

    python -m tests.reliability.crash_writer CRM_PATH CALL_ID

Each caller or agent turn is written with `CallCrm.run`, and its id is printed (and flushed) on
stdout only once the commit has returned, so every id a test reads was committed. Events go
through `CallCrm.submit` in between, as the recorder queues them. SIGTERM stops the loop
cleanly (queued writes flushed, then "DONE <turns>"); SIGKILL is what the tests use to crash it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import sys

from agent.crm import LocalCallCrm
from app.crm import calls as crm_calls

# a turn's text varies in size so that commits cross page boundaries and fill the WAL
FILLER = {
    "en": "The caller asked about the price of a business website and a mobile app. ",
    "ar": "سأل المتصل عن سعر موقع إلكتروني للأعمال وتطبيق للهاتف المحمول. ",
}


def turn_text(n: int) -> str:
    language = "ar" if n % 2 else "en"
    return f"turn {n}: " + FILLER[language] * (1 + n % 23)


async def write(path: str, call_id: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    crm = await LocalCallCrm.open(path)
    written = 0
    try:
        for n in itertools.count():
            if stop.is_set():
                break
            crm.submit(
                crm_calls.add_event,
                call_id=call_id,
                kind="tool_called",
                persona="reception",
                tool="identify_caller",
                n=n,
            )
            turn = await crm.run(
                crm_calls.add_turn,
                call_id=call_id,
                role="caller" if n % 2 else "agent",
                text=turn_text(n),
                persona="reception",
                language="ar" if n % 2 else "en",
                llm_ttft=0.25,
                e2e_latency=0.9,
            )
            sys.stdout.write(f"{turn['id']}\n")
            sys.stdout.flush()
            written += 1
    finally:
        await crm.aclose()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.crash_writer")
    parser.add_argument("crm_path")
    parser.add_argument("call_id", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    written = asyncio.run(write(args.crm_path, args.call_id))
    sys.stdout.write(f"DONE {written}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
