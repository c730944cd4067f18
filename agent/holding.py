"""A persona that is late with its answer says so: a caller never sits in silence while the
LLM is slow or hung.

The LLM gets `LLM_CONNECT` (agent.session) per attempt, and a hung attempt is retried, which
can take up to about 19 s before the failsafe apologises; a self-hosted model can also take
seconds to its first token. While nothing has come, the persona says a short hold line in the
call's language `HOLD_AFTER` seconds after the request (a healthy first token comes in well
under a second, so that is its normal first byte plus about 2 s), and another every
`HOLD_AGAIN_AFTER` seconds, as a person on the phone would. The lines are part of the reply, so
they are in the transcript as said.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

from livekit.agents.types import FlushSentinel

HOLD_AFTER = 2.5
HOLD_AGAIN_AFTER = 6.0
HOLD_LINES = {
    "en": ("One moment, please.", "Thank you for waiting, I am still on it."),
    "ar": ("لحظة من فضلك.", "شكراً لانتظارك، ما زلت أتابع طلبك."),
}

T = TypeVar("T")


async def with_hold_lines(
    stream: AsyncIterable[T],
    language: str,
    *,
    first_after: float = HOLD_AFTER,
    again_after: float = HOLD_AGAIN_AFTER,
) -> AsyncIterator[T | str | FlushSentinel]:
    """`stream` as it is, with a hold line (each flushed, so it is spoken at once) whenever its
    first piece is late. Once anything has come, nothing is added."""
    lines = HOLD_LINES.get(language, HOLD_LINES["en"])
    source = aiter(stream)
    pending: asyncio.Future[T] = asyncio.ensure_future(anext(source))
    said = 0
    try:
        done, _ = await asyncio.wait({pending}, timeout=first_after)
        while not done:
            yield lines[min(said, len(lines) - 1)] + " "
            yield FlushSentinel()
            said += 1
            done, _ = await asyncio.wait({pending}, timeout=again_after)
        while True:
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.ensure_future(anext(source))
            await asyncio.wait({pending})
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
