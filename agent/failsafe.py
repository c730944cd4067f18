"""When every provider of a stage (STT, LLM or TTS) has failed mid-call: the caller hears an
apology in their language, a callback ticket is opened, and the call ends cleanly. Never dead
air, never a call that just hangs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from livekit import rtc
from livekit.agents import NOT_GIVEN, AgentSession, ErrorEvent, tts

from agent.call_state import CallState
from agent.notices import apology
from app.crm import caller_records

logger = logging.getLogger("ornina.agent.failsafe")

APOLOGY_PLAYOUT_TIMEOUT = 30.0


class ProviderFailsafe:
    def __init__(
        self,
        session: AgentSession[CallState],
        state: CallState,
        *,
        local_voice: Callable[[str], tts.TTS] | None = None,
    ) -> None:
        """`local_voice(language)` speaks the apology when the TTS stage itself is down."""
        self._session = session
        self._state = state
        self._local_voice = local_voice
        self._task: asyncio.Task[None] | None = None
        session.on("error", self._on_error)

    def _on_error(self, event: ErrorEvent) -> None:
        # a recoverable error is a retry or a fallback to the next provider; an unrecoverable
        # one means the whole stage is down (the fallback adapter has tried every provider)
        if getattr(event.error, "recoverable", True) or self._task is not None:
            return
        stage = str(getattr(event.error, "type", "error")).removesuffix("_error")
        logger.error(
            "every provider failed", extra={"stage": stage, "call_id": self._state.call_id}
        )
        self._task = asyncio.get_running_loop().create_task(self._give_up(stage))

    async def _give_up(self, stage: str) -> None:
        state = self._state
        state.outcome = f"{stage}_providers_failed"
        number = await self._open_callback_ticket(stage)
        await self._apologise(apology(state.language, number), use_local_voice=stage == "tts")
        self._session.shutdown()

    async def _open_callback_ticket(self, stage: str) -> str | None:
        state = self._state
        try:
            ticket = await state.crm.run(
                caller_records.open_callback_ticket,
                call_id=state.call_id,
                customer_id=state.customer_id,
                description=(
                    f"Every {stage.upper()} provider failed during the call with "
                    f"{state.persona.value}; the caller was told we would call back."
                ),
            )
        except Exception:
            logger.exception("could not open the callback ticket", extra={"call_id": state.call_id})
            return None
        if ticket is None:
            logger.warning(
                "no callback ticket: the caller is unknown", extra={"call_id": state.call_id}
            )
            return None
        return ticket["number"]

    async def _apologise(self, text: str, *, use_local_voice: bool) -> None:
        audio = (
            self._local_audio(text)
            if use_local_voice and self._local_voice is not None
            else NOT_GIVEN
        )
        try:
            await self._session.interrupt(force=True)
            handle = self._session.say(text, audio=audio, allow_interruptions=False)
            await asyncio.wait_for(handle.wait_for_playout(), APOLOGY_PLAYOUT_TIMEOUT)
        except Exception:
            logger.exception("could not play the apology", extra={"call_id": self._state.call_id})

    async def _local_audio(self, text: str) -> AsyncIterator[rtc.AudioFrame]:
        assert self._local_voice is not None
        voice = self._local_voice(self._state.language)
        try:
            async with voice.synthesize(text) as stream:
                async for event in stream:
                    yield event.frame
        finally:
            await voice.aclose()
