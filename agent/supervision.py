"""A supervisor on the call: the API tells the agent, with a data message from the server on
the topic `ornina.supervision`, that an operator took the call over or handed it back.

Taken over: the persona says that a colleague is joining, then stops answering; the caller's
turns are still transcribed and recorded, and so are the operator's (role `operator`, with
their login), from the operator's microphone track, and they join the persona's context. If
the operator never joins, or leaves without handing back, the persona takes the call back by
itself. Handed back: the persona that was speaking picks up again, with the operator's summary
or the conversation so far.

Only the server may send these messages (a packet from any participant, the caller included,
is ignored): the API checked the operator's permission and recorded the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from livekit import rtc
from livekit.agents import AgentSession, ChatMessage, stt, utils
from livekit.agents.vad import VAD
from livekit.agents.voice import SpeechHandle

from agent.call_state import CallState
from app.crm import calls as crm_calls
from app.livekit_tokens import OPERATOR_ROLE, ROLE_ATTRIBUTE

logger = logging.getLogger("ornina.agent.supervision")

TOPIC = "ornina.supervision"
TAKEOVER_LINE = {
    "en": "One moment please, a colleague of mine is joining the call to help you.",
    "ar": "لحظة من فضلك، ينضم أحد زملائي إلى المكالمة لمساعدتك.",
}
LINE_TIMEOUT = 15.0
JOIN_TIMEOUT = 60.0
"""An operator who took the call over and has not joined by then gives it back."""


def handback_instructions(name: str, summary: str) -> str:
    told = (
        f"Their summary: {summary}"
        if summary
        else "What they and the caller said is in the conversation above."
    )
    return (
        f"Your colleague {name} talked with the caller and has handed the call back to you. "
        f"{told} In one short sentence tell the caller you are back with them, then help with "
        "what is still open."
    )


class Supervision:
    """Listens for the server's supervision messages in the call's room."""

    def __init__(
        self, session: AgentSession[CallState], state: CallState, room: rtc.Room, vad: VAD | None
    ) -> None:
        self._session = session
        self._state = state
        self._room = room
        self._vad = vad
        self._tasks: set[asyncio.Task] = set()
        self._transcribing: asyncio.Task | None = None
        self._operator_identity: str | None = None
        self._operator_name = ""
        self._joined = False
        room.on("data_received", self._on_data)
        room.on("track_subscribed", self._on_track)
        room.on("participant_connected", self._on_connected)
        room.on("participant_disconnected", self._on_disconnected)

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != TOPIC:
            return
        if packet.participant is not None:
            logger.warning(
                "supervision message from a participant ignored",
                extra={"call_id": self._state.call_id, "from": packet.participant.identity},
            )
            return
        try:
            message = json.loads(packet.data)
            action, operator = message["action"], str(message["operator"])[:64]
            name = str(message.get("name") or "a colleague")[:40]
        except (ValueError, KeyError, TypeError):
            logger.warning("malformed supervision message", extra={"call_id": self._state.call_id})
            return
        if action == "takeover":
            identity = str(message.get("identity") or "")[:64]
            self._spawn(self.take_over(operator, name=name, identity=identity))
        elif action == "handback":
            summary = str(message.get("summary") or "")[:2000]
            self._spawn(self.hand_back(name, summary))

    def _spawn(self, work) -> None:  # noqa: ANN001 - a coroutine
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def take_over(self, operator: str, *, name: str = "", identity: str = "") -> None:
        state = self._state
        if state.taken_over_by is not None:
            return
        state.taken_over_by = operator
        self._operator_identity, self._operator_name, self._joined = identity, name, False
        logger.info("taken over", extra={"call_id": state.call_id, "operator": operator})
        with contextlib.suppress(Exception):  # nothing playing, or not interruptible
            self._session.interrupt()
        handle = self._session.say(TAKEOVER_LINE[state.language], allow_interruptions=False)
        try:
            await asyncio.wait_for(handle.wait_for_playout(), LINE_TIMEOUT)
        except TimeoutError:
            logger.warning("the takeover line did not finish", extra={"call_id": state.call_id})
        for participant in self._room.remote_participants.values():
            self._on_connected(participant)
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._on_track(publication.track, publication, participant)
        if identity:
            self._spawn(self._give_back_unless_joined(operator))

    async def hand_back(self, name: str, summary: str) -> SpeechHandle | None:
        """The persona's first words back (None when the call was not taken over)."""
        state = self._state
        if state.taken_over_by is None:
            return None
        logger.info("handed back", extra={"call_id": state.call_id})
        state.taken_over_by = None
        self._operator_identity = None
        if self._transcribing is not None:
            await utils.aio.cancel_and_wait(self._transcribing)
            self._transcribing = None
        return self._session.generate_reply(
            instructions=handback_instructions(name or self._operator_name, summary),
            allow_interruptions=True,
        )

    async def aclose(self) -> None:
        """The call is over: stop transcribing and whatever else is running."""
        for task in [*self._tasks, *([self._transcribing] if self._transcribing else [])]:
            await utils.aio.cancel_and_wait(task)

    async def _give_back_unless_joined(self, operator: str) -> None:
        await asyncio.sleep(JOIN_TIMEOUT)
        if self._state.taken_over_by == operator and not self._joined:
            await self._resume(operator, "the operator did not join")

    async def _resume(self, operator: str, reason: str) -> None:
        """Take the call back without being told (the operator is not there)."""
        state = self._state
        logger.warning("taking the call back", extra={"call_id": state.call_id, "why": reason})
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind="handback",
            persona=state.persona.value,
            operator=operator,
            reason=reason,
        )
        await self.hand_back(self._operator_name, "")

    def _is_operator(self, participant: rtc.RemoteParticipant) -> bool:
        return (
            self._operator_identity is not None
            and participant.identity == self._operator_identity
            and participant.attributes.get(ROLE_ATTRIBUTE) == OPERATOR_ROLE
        )

    def _on_connected(self, participant: rtc.RemoteParticipant) -> None:
        if self._is_operator(participant):
            self._joined = True

    def _on_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        operator = self._state.taken_over_by
        if operator is not None and self._is_operator(participant):
            self._spawn(self._resume(operator, "the operator left the call"))

    def _on_track(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        state = self._state
        if (
            track.kind != rtc.TrackKind.KIND_AUDIO
            or not self._is_operator(participant)
            or state.taken_over_by is None
            or self._transcribing is not None
            or state.voice is None
        ):
            return
        self._joined = True
        self._transcribing = asyncio.ensure_future(self._transcribe(track, state.taken_over_by))

    async def _transcribe(self, track: rtc.Track, login: str) -> None:
        """The operator's words as `operator` turns as they are said, and in the persona's
        context (it hears what its colleague told the caller)."""
        state = self._state
        recogniser = state.voice.stt(state.language)
        adapter = None
        if not recogniser.capabilities.streaming:
            if self._vad is None:
                return
            recogniser = adapter = stt.StreamAdapter(stt=recogniser, vad=self._vad)
        audio = rtc.AudioStream(track, sample_rate=16000, num_channels=1)
        stream = recogniser.stream()

        async def push() -> None:
            async for event in audio:
                stream.push_frame(event.frame)
            stream.end_input()

        pushing = asyncio.ensure_future(push())
        try:
            async for event in stream:
                if event.type != stt.SpeechEventType.FINAL_TRANSCRIPT:
                    continue
                text = event.alternatives[0].text.strip() if event.alternatives else ""
                if text:
                    await self._operator_said(login, text)
        except Exception:
            logger.exception("operator transcription stopped", extra={"call_id": state.call_id})
        finally:
            await utils.aio.cancel_and_wait(pushing)
            await stream.aclose()
            await audio.aclose()
            if adapter is not None:
                await adapter.aclose()
            if self._transcribing is asyncio.current_task():
                self._transcribing = None

    async def _operator_said(self, login: str, text: str) -> None:
        state = self._state
        state.crm.submit(
            crm_calls.add_turn,
            call_id=state.call_id,
            role="operator",
            operator_login=login,
            language=state.language,
            text=text,
        )
        agent = self._session.current_agent
        history = agent.chat_ctx.copy()
        history.items.append(
            ChatMessage(
                role="assistant", content=[f"({self._operator_name or 'Colleague'}) {text}"]
            )
        )
        await agent.update_chat_ctx(history)
