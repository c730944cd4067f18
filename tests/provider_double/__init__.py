"""Provider double: a local OpenAI-compatible stand-in for cloud STT/LLM/TTS in tests.

Run it as a process: ``python -m tests.provider_double --host 127.0.0.1 --port 0`` (prints
``LISTENING <port>``), or let :class:`ProviderDouble` (``tests.provider_double.client``) start
and steer it.
"""

from .client import ProviderDouble, ProviderDoubleError
from .server import detect_language, espeak_pcm, espeak_wav, make_wav, parse_wav, pcm_rms

__all__ = [
    "ProviderDouble",
    "ProviderDoubleError",
    "detect_language",
    "espeak_pcm",
    "espeak_wav",
    "make_wav",
    "parse_wav",
    "pcm_rms",
]
