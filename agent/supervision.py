"""A supervisor on the call: the API tells the agent, with a data message from the server on
the topic `ornina.supervision`, that an operator took the call over or handed it back.

Taken over: the persona says that a colleague is joining, then stops answering; the caller's
turns are still transcribed and recorded, and so are the operator's (role `operator`, with
their login), from the operator's microphone track. Handed back: the persona that was speaking
picks up again, with the operator's summary or the conversation so far.

Only the server may send these messages (a packet from any participant, the caller included,
is ignored): the API checked the operator's permission and recorded the event.
"""

from __future__ import annotations

import asyncio
import json
import logging

from livekit import rtc
from livekit.agents import AgentSession, stt, utils
from livekit.agents.vad import VAD
from livekit.agents.voice import SpeechHandle

from agent.call_state import CallState
from app.crm import calls as crm_calls

logger = logging.getLogger("ornina.agent.supervision")

TOPIC = "ornina.supervision"
OPERATOR_ROLE = "operator"
TAKEOVER_LINE = {
    "en": "One moment please, a colleague of mine is joining the call to help you.",
    "ar": "لحظة من فضلك، ينضم أحد زملائي إلى المكالمة لمساعدتك.",
}
LINE_TIMEOUT = 15.0


def handback_instructions(state: CallState, operator: str, summary: str) -> str:
    told = (
        f"Their summary: {summary}"
        if summary
        else "What they and the caller said is in the conversation above."
    )
    return (
        f"Your colleague {operator} talked with the caller and has handed the call back to "
        f"you. {told} In one short sentence tell the caller you are back with them, then help "
        "with what is still open."
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
        room.on("data_received", self._on_data)
        room.on("track_subscribed", self._on_track)

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
        except (ValueError, KeyError, TypeError):
            logger.warning("malformed supervision message", extra={"call_id": self._state.call_id})
            return
        if action == "takeover":
            self._spawn(self.take_over(operator))
        elif action == "handback":
            self._spawn(self.hand_back(operator, str(message.get("summary") or "")[:2000]))

    def _spawn(self, work) -> None:  # noqa: ANN001 - a coroutine
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def take_over(self, operator: str) -> None:
        state = self._state
        if state.taken_over_by is not None:
            return
        state.taken_over_by = operator
        logger.info("taken over", extra={"call_id": state.call_id, "operator": operator})
        self._session.interrupt()
        handle = self._session.say(TAKEOVER_LINE[state.language], allow_interruptions=False)
        try:
            await asyncio.wait_for(handle.wait_for_playout(), LINE_TIMEOUT)
        except TimeoutError:
            logger.warning("the takeover line did not finish", extra={"call_id": state.call_id})
        for participant in self._room.remote_participants.values():
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._on_track(publication.track, publication, participant)

    async def hand_back(self, operator: str, summary: str) -> SpeechHandle | None:
        """The persona's first words back (None when the call was not taken over)."""
        state = self._state
        if state.taken_over_by is None:
            return None
        state.taken_over_by = None
        if self._transcribing is not None:
            self._transcribing.cancel()
            self._transcribing = None
        logger.info("handed back", extra={"call_id": state.call_id, "operator": operator})
        return self._session.generate_reply(
            instructions=handback_instructions(state, operator, summary), allow_interruptions=True
        )

    def _on_track(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        state = self._state
        login = participant.attributes.get("ornina.operator")
        if (
            track.kind != rtc.TrackKind.KIND_AUDIO
            or participant.attributes.get("ornina.role") != OPERATOR_ROLE
            or login is None
            or login != state.taken_over_by
            or self._transcribing is not None
            or state.voice is None
        ):
            return
        self._transcribing = asyncio.ensure_future(self._transcribe(track, login))

    async def _transcribe(self, track: rtc.Track, login: str) -> None:
        """The operator's words as `operator` turns, as they are said."""
        state = self._state
        recogniser = state.voice.stt(state.language)
        if not recogniser.capabilities.streaming:
            if self._vad is None:
                return
            recogniser = stt.StreamAdapter(stt=recogniser, vad=self._vad)
        audio = rtc.AudioStream(track, sample_rate=16000, num_channels=1)
        stream = recogniser.stream()

        async def push() -> None:
            async for event in audio:
                stream.push_frame(event.frame)

        pushing = asyncio.ensure_future(push())
        try:
            async for event in stream:
                if event.type != stt.SpeechEventType.FINAL_TRANSCRIPT:
                    continue
                text = event.alternatives[0].text.strip() if event.alternatives else ""
                if text:
                    state.crm.submit(
                        crm_calls.add_turn,
                        call_id=state.call_id,
                        role="operator",
                        operator_login=login,
                        language=state.language,
                        text=text,
                    )
        except Exception:
            logger.exception("operator transcription stopped", extra={"call_id": state.call_id})
        finally:
            await utils.aio.cancel_and_wait(pushing)
            await stream.aclose()
            await audio.aclose()
