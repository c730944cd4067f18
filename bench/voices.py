"""The benchmark callers' voices: offline synthesizers from Debian, at least two per language.

English: espeak-ng and flite's `slt` (a recorded-voice clustergen model, the most natural
offline English voice in Debian main). Arabic: espeak-ng's Arabic voice, and the same voice with
a female variant, lower speed and higher pitch. Debian's other Arabic voices (mbrola `ar1`,
`ar2`) are in non-free, which this project's package sources do not include; festival and flite
have no Arabic. Every figure is reported per voice, so an artefact of one voice shows.

`bootstrap.sh --dev` installs espeak-ng and flite.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import trim_silence
from tests.e2e.caller import SAMPLE_RATE
from tests.provider_double.server import parse_wav


@dataclass(frozen=True)
class Voice:
    name: str
    language: str
    engine: str  # "espeak-ng" or "flite"
    voice: str
    words_per_minute: int = 175
    pitch: int = 50

    def command(self, out: Path) -> list[str]:
        if self.engine == "flite":
            return [_exe("flite"), "-voice", self.voice, "-o", str(out)]
        return [
            _exe("espeak-ng"),
            "-v",
            self.voice,
            "-s",
            str(self.words_per_minute),
            "-p",
            str(self.pitch),
            "-w",
            str(out),
        ]


VOICES: tuple[Voice, ...] = (
    Voice("espeak-ng en-us", "en", "espeak-ng", "en-us"),
    Voice("flite slt", "en", "flite", "slt"),
    Voice("espeak-ng ar", "ar", "espeak-ng", "ar"),
    Voice("espeak-ng ar+f3 slow", "ar", "espeak-ng", "ar+f3", words_per_minute=150, pitch=65),
)


def voices_for(language: str) -> list[Voice]:
    return [v for v in VOICES if v.language == language]


def _exe(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (./bootstrap.sh --dev installs it)")
    return path


async def synthesize(text: str, voice: Voice, rate: int = SAMPLE_RATE) -> np.ndarray:
    """`text` in `voice` as int16 PCM at `rate`, leading and trailing silence cut."""
    with tempfile.TemporaryDirectory(prefix="ornina-voice-") as tmp:
        out = Path(tmp) / "speech.wav"
        command = voice.command(out)
        if voice.engine == "flite":
            command += ["-t", text]
            proc = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            _, err = await proc.communicate()
        else:
            proc = await asyncio.create_subprocess_exec(
                *command,
                "--stdin",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate(text.encode())
        if proc.returncode != 0:
            raise RuntimeError(f"{voice.name} failed: {err.decode(errors='replace').strip()}")
        pcm, source_rate, channels, width = parse_wav(out.read_bytes())
    if channels != 1 or width != 2:
        raise RuntimeError(f"{voice.name}: unexpected {channels} channels, {width * 8} bit")
    audio = np.frombuffer(pcm, dtype=np.int16)
    if source_rate != rate:
        positions = np.arange(0, len(audio), source_rate / rate)
        audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.int16)
    return trim_silence(audio, rate)


async def utterance_audio(
    parts: list[str], pauses_ms: list[int], voice: Voice, rate: int = SAMPLE_RATE
) -> tuple[np.ndarray, list[float]]:
    """The parts spoken with silence between them, and where each part ends (seconds from the
    start of the audio)."""
    pieces: list[np.ndarray] = []
    ends: list[float] = []
    length = 0
    for i, part in enumerate(parts):
        speech = await synthesize(part, voice, rate)
        pieces.append(speech)
        length += len(speech)
        ends.append(length / rate)
        if i < len(parts) - 1:
            gap = np.zeros(int(rate * pauses_ms[i] / 1000), dtype=np.int16)
            pieces.append(gap)
            length += len(gap)
    return np.concatenate(pieces), ends
