"""The local espeak-ng voice speaks real, audible audio in both languages."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from livekit.agents import APIConnectionError

from agent.local_tts import SAMPLE_RATE, EspeakTTS, espeak_available, wav_to_pcm
from agent.notices import NOT_CONFIGURED


@pytest.mark.asyncio
@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
@pytest.mark.parametrize("language", ["ar", "en"])
async def test_notice_is_audible(language: str) -> None:
    voice = EspeakTTS(language)
    try:
        frames = [event.frame async for event in voice.synthesize(NOT_CONFIGURED[language])]
    finally:
        await voice.aclose()
    samples = np.concatenate([np.frombuffer(frame.data, dtype=np.int16) for frame in frames])
    seconds = len(samples) / frames[0].sample_rate
    assert frames[0].sample_rate == SAMPLE_RATE and frames[0].num_channels == 1
    assert 2.0 < seconds < 30.0
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 300  # not silence


def _wav(samples: bytes, *, rate: int = 16000, declared: int = 0x7FFFFFFF) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", declared)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", declared)
        + samples
    )


def test_streamed_wav_with_placeholder_sizes() -> None:
    pcm, rate = wav_to_pcm(_wav(b"\x01\x00\x02\x00\x03"))
    assert (pcm, rate) == (b"\x01\x00\x02\x00", 16000)


def test_not_a_wav() -> None:
    with pytest.raises(APIConnectionError):
        wav_to_pcm(b"ID3 this is an mp3")
