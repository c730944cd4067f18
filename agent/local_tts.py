"""A small local TTS (espeak-ng) for what must be heard even without any provider: the
"not configured" notice and the apology when every TTS provider has failed."""

from __future__ import annotations

import asyncio
import shutil
import struct

from livekit.agents import APIConnectionError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

ESPEAK = "espeak-ng"
SAMPLE_RATE = 22050
"""espeak-ng writes 22.05 kHz mono 16-bit WAV."""
VOICES = {"ar": "ar", "en": "en"}
WORDS_PER_MINUTE = 150


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


class EspeakTTS(tts.TTS):
    def __init__(self, language: str = "en", *, speed: int = WORDS_PER_MINUTE) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self._voice = VOICES.get(language, "en")
        self._speed = speed

    @property
    def model(self) -> str:
        return ESPEAK

    @property
    def provider(self) -> str:
        return "local"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakStream(tts.ChunkedStream):
    _tts: EspeakTTS

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                ESPEAK,
                "--stdout",
                "-v",
                self._tts._voice,
                "-s",
                str(self._tts._speed),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            # the text goes on stdin so that nothing the caller or model wrote reaches argv
            wav, error = await asyncio.wait_for(
                process.communicate(self.input_text.encode()), self._conn_options.timeout * 3
            )
        except (TimeoutError, OSError) as e:
            raise APIConnectionError(f"{ESPEAK} failed to run") from e
        if process.returncode != 0 or not wav:
            raise APIConnectionError(f"{ESPEAK} exited with {process.returncode}: {error[:200]!r}")
        pcm, sample_rate = wav_to_pcm(wav)
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(pcm)
        output_emitter.flush()


def wav_to_pcm(wav: bytes) -> tuple[bytes, int]:
    """The samples and rate of a mono 16-bit WAV. espeak-ng streams its WAV to stdout, so the
    sizes in its header are placeholders: everything after the data chunk header is audio."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise APIConnectionError(f"{ESPEAK} did not write a WAV file")
    offset, sample_rate = 12, SAMPLE_RATE
    while offset + 8 <= len(wav):
        chunk, size = wav[offset : offset + 4], struct.unpack("<I", wav[offset + 4 : offset + 8])[0]
        if chunk == b"fmt ":
            sample_rate = struct.unpack("<I", wav[offset + 12 : offset + 16])[0]
        elif chunk == b"data":
            pcm = wav[offset + 8 :]
            return pcm[: len(pcm) - len(pcm) % 2], sample_rate
        offset += 8 + size
    raise APIConnectionError(f"{ESPEAK} wrote no audio")
