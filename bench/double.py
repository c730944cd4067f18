"""`python -m bench.double`: the tests' provider double with its own synthesis cached.

The double makes TTS audio with espeak-ng and encodes it (mp3 by default) before it applies the
configured first-byte delay, so an uncached request costs 30-150 ms of the double's own CPU on
top of `tts_first_byte_ms`. A real provider's time is what the delay stands for; the double's
synthesis time is nobody's overhead. Here every (text, language, speed) is synthesised and
encoded once, and a benchmark warms the cache before it measures, so a configured delay of
0 ms is close to 0 ms.
"""

from __future__ import annotations

import functools
import sys

from tests.provider_double import __main__ as double_main
from tests.provider_double import server

_pcm_cache: dict[tuple[str, str | None, float], tuple[bytes, int]] = {}
_real_espeak = server.espeak_pcm_async
_real_encode = server.encode_audio


async def cached_espeak(
    text: str, language: str | None = None, speed: float = 1.0
) -> tuple[bytes, int]:
    key = (text, language, speed)
    if key not in _pcm_cache:
        _pcm_cache[key] = await _real_espeak(text, language, speed)
    return _pcm_cache[key]


@functools.lru_cache(maxsize=512)
def cached_encode(pcm: bytes, rate: int, response_format: str) -> tuple[bytes, str]:
    return _real_encode(pcm, rate, response_format)


def install() -> None:
    server.espeak_pcm_async = cached_espeak
    server.encode_audio = cached_encode


if __name__ == "__main__":
    install()
    double_main.main(sys.argv[1:])
