"""A caller built on the LiveKit Python SDK: takes a token from `POST /api/calls`, joins,
listens to the agent, speaks espeak-ng audio, hangs up. What it measures is what a caller
would notice: whether an agent joined, and whether its audio is sound or silence."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
from livekit import rtc

from tests.provider_double.server import espeak_pcm_async

SAMPLE_RATE = 48_000
FRAME_MS = 20
SILENCE_RMS = 200.0


@dataclass
class HeardAudio:
    frames: int = 0
    loud_frames: int = 0
    first_loud_at: float | None = None
    loud_times: list[float] = field(default_factory=list)

    def loud_since(self, moment: float) -> int:
        return sum(1 for t in self.loud_times if t >= moment)


class Caller:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.room = rtc.Room()
        self.heard = HeardAudio()
        self.call: dict = {}
        self.agent_joined_at: float | None = None
        self.joined_at: float | None = None
        self._source = rtc.AudioSource(SAMPLE_RATE, 1)
        self._readers: list[asyncio.Task] = []
        self._streams: list[rtc.AudioStream] = []

    async def start_call(self, **body: object) -> dict:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(f"{self.api_url}/api/calls", json=body)
        assert response.status_code == 201, response.text
        self.call = response.json()
        return self.call

    async def join(self, **body: object) -> None:
        """Start a call through the API and join its room with the returned token."""
        await self.join_call(await self.start_call(**body))

    async def join_call(self, call: dict) -> None:
        """Join the room of a call started elsewhere (`livekit_url`, `token`)."""
        self.call = call
        self.room.on("track_subscribed", self._on_track)
        self.room.on("participant_connected", self._on_participant)
        await self.room.connect(call["livekit_url"], call["token"])
        self.joined_at = time.monotonic()
        for participant in self.room.remote_participants.values():
            self._on_participant(participant)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )

    def _on_participant(self, participant: rtc.RemoteParticipant) -> None:
        if (
            participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            and self.agent_joined_at is None
        ):
            self.agent_joined_at = time.monotonic()

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._readers.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        self._streams.append(stream)
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            self.heard.frames += 1
            if samples.size and np.sqrt(np.mean(samples**2)) > SILENCE_RMS:
                now = time.monotonic()
                self.heard.loud_frames += 1
                self.heard.loud_times.append(now)
                if self.heard.first_loud_at is None:
                    self.heard.first_loud_at = now

    async def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"caller timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.05)

    async def wait_for_agent(self, timeout: float = 5.0) -> float:
        """Seconds from our join to the agent participant's arrival."""
        await self.wait_for(lambda: self.agent_joined_at is not None, timeout, "the agent to join")
        return self.agent_joined_at - self.joined_at

    async def wait_for_speech(self, since: float, frames: int = 25, timeout: float = 30.0) -> None:
        """Wait until at least `frames` loud 20 ms frames (0.5 s of sound) arrived after `since`."""
        await self.wait_for(lambda: self.heard.loud_since(since) >= frames, timeout, "agent speech")

    async def wait_for_quiet(self, seconds: float = 0.8, timeout: float = 30.0) -> None:
        """Wait until the agent has been silent for `seconds` (it finished its sentence)."""

        def quiet() -> bool:
            last = self.heard.loud_times[-1] if self.heard.loud_times else 0.0
            return time.monotonic() - last >= seconds

        await self.wait_for(quiet, timeout, "the agent to finish speaking")

    async def say(self, text: str, language: str) -> float:
        """Speak `text` (espeak-ng) into the microphone at real-time pace, then 1 s of silence.

        Returns the moment the speech ended."""
        await self._push(await _speech(text, language))
        ended = time.monotonic()
        await self._push(np.zeros(SAMPLE_RATE, dtype=np.int16))
        return ended

    async def say_in_parts(
        self, parts: list[str], language: str, pause: float
    ) -> list[tuple[float, float]]:
        """Speak `parts` with `pause` seconds of silence between them (a caller who stops
        mid-sentence to think or to read a number out in groups), then 1 s of silence.

        Returns when each pause began and ended (time.monotonic())."""
        pauses = []
        for i, part in enumerate(parts):
            await self._push(await _speech(part, language))
            if i < len(parts) - 1:
                began = time.monotonic()
                await self._push(np.zeros(int(SAMPLE_RATE * pause), dtype=np.int16))
                pauses.append((began, time.monotonic()))
        await self._push(np.zeros(SAMPLE_RATE, dtype=np.int16))
        return pauses

    async def _push(self, audio: np.ndarray) -> None:
        step = SAMPLE_RATE * FRAME_MS // 1000
        for start in range(0, len(audio), step):
            chunk = audio[start : start + step]
            if len(chunk) < step:
                chunk = np.pad(chunk, (0, step - len(chunk)))
            frame = rtc.AudioFrame(chunk.tobytes(), SAMPLE_RATE, 1, step)
            await self._source.capture_frame(frame)
        await self._source.wait_for_playout()

    async def hang_up(self) -> None:
        await self.room.disconnect()
        for stream in self._streams:
            await stream.aclose()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self._source.aclose()


async def _speech(text: str, language: str) -> np.ndarray:
    """espeak-ng speech at the caller's sample rate."""
    pcm, rate = await espeak_pcm_async(text, language)
    audio = np.frombuffer(pcm, dtype=np.int16)
    if rate != SAMPLE_RATE:
        positions = np.arange(0, len(audio), rate / SAMPLE_RATE)
        audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.int16)
    return audio
