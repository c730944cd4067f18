"""A stand-in for the agent worker inside a real LiveKit room, speaking the same protocol the
call page reads: an AGENT participant with `lk.agent.state`, `ornina.persona` and
`ornina.language` attributes, audio on a microphone track, and captions as `lk.transcription`
text streams (the agent's own, and the caller's sent on the caller's behalf, as LiveKit Agents
does). It runs its own event loop on a thread, so sync Playwright can drive the page meanwhile.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
from livekit import api, rtc

SAMPLE_RATE = 48_000
FRAME = SAMPLE_RATE // 50  # 20 ms
T = TypeVar("T")


class ScriptedAgent:
    def __init__(self, livekit_url: str, room_name: str, key: str, secret: str) -> None:
        self.url, self.room_name, self.key, self.secret = livekit_url, room_name, key, secret
        self.identity = f"agent-AJ_{secrets.token_hex(4)}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.room: rtc.Room | None = None
        self._source: rtc.AudioSource | None = None
        self._track_sid = ""
        self._caller_left: asyncio.Event | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def close(self) -> None:
        if self.room is not None:
            self.run(self.room.disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # -- coroutines (pass them to run) ---------------------------------------------------------

    async def join(self, **attributes: str) -> None:
        token = (
            api.AccessToken(self.key, self.secret)
            .with_identity(self.identity)
            .with_kind("agent")
            .with_attributes(attributes)
            .with_grants(
                api.VideoGrants(
                    room_join=True, room=self.room_name, agent=True, can_update_own_metadata=True
                )
            )
            .to_jwt()
        )
        self.room = rtc.Room()
        self._caller_left = asyncio.Event()
        self.room.on("participant_disconnected", lambda _p: self._caller_left.set())
        await self.room.connect(self.url, token)
        self._source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("agent-voice", self._source)
        publication = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._track_sid = publication.sid

    async def set(self, **attributes: str) -> None:
        await self.room.local_participant.set_attributes(attributes)

    async def say(self, text: str, seconds: float = 1.5) -> None:
        """A tone for `seconds` while the words stream out as the agent's caption segment."""
        writer = await self.room.local_participant.stream_text(
            topic="lk.transcription",
            attributes={
                "lk.segment_id": f"SG_{secrets.token_hex(6)}",
                "lk.transcription_final": "false",
                "lk.transcribed_track_id": self._track_sid,
            },
        )
        words = text.split()
        frames = int(seconds * 50)
        tone = (np.sin(2 * np.pi * 440 * np.arange(FRAME) / SAMPLE_RATE) * 12_000).astype(np.int16)
        for index in range(frames):
            if index % max(1, frames // len(words)) == 0 and words:
                await writer.write(words.pop(0) + " ")
            await self._source.capture_frame(rtc.AudioFrame(tone.tobytes(), SAMPLE_RATE, 1, FRAME))
        for word in words:
            await writer.write(word + " ")
        await writer.aclose(attributes={"lk.transcription_final": "true"})

    async def hear(self, text: str) -> None:
        """The caller's words, transcribed: sent on the caller's behalf, naming their track."""
        caller = self.caller()
        microphone = next(
            pub.sid
            for pub in caller.track_publications.values()
            if pub.source == rtc.TrackSource.SOURCE_MICROPHONE
        )
        segment = f"SG_{secrets.token_hex(6)}"
        for final, words in (("false", text.split()[:2]), ("true", text.split())):
            writer = await self.room.local_participant.stream_text(
                topic="lk.transcription",
                sender_identity=caller.identity,
                attributes={
                    "lk.segment_id": segment,
                    "lk.transcription_final": final,
                    "lk.transcribed_track_id": microphone,
                },
            )
            await writer.write(" ".join(words))
            await writer.aclose()

    async def caller_microphone_muted(self) -> bool:
        return any(
            pub.muted
            for pub in self.caller().track_publications.values()
            if pub.source == rtc.TrackSource.SOURCE_MICROPHONE
        )

    async def delete_room(self) -> None:
        """What the worker does when a call ends on its side: the room goes, with the caller."""
        http_url = "http" + self.url.removeprefix("ws")
        async with api.LiveKitAPI(http_url, self.key, self.secret) as client:
            await client.room.delete_room(api.DeleteRoomRequest(room=self.room_name))

    async def wait_for_caller_to_leave(self) -> None:
        await self._caller_left.wait()

    def caller(self) -> rtc.RemoteParticipant:
        (caller,) = self.room.remote_participants.values()
        return caller
