"""When a caller has finished speaking.

The STT is batch (whisper-style uploads), so the transcript of what the caller said is there by
the time the turn is decided, and it is the stronger signal: a sentence that ends on "and", "the"
or "my number is", or a phone number of four digits, is not finished, whatever the voice does;
anything else is. LiveKit's audio model (v1-mini) decides from the last 1.2 s of audio alone;
on the benchmark's synthetic voices it held one finished sentence in three for its maximum
delay (BENCHMARKS.md, "Turn-taking"). `TURN_DETECTOR=audio` brings it back.

A finished turn is answered `ENDPOINTING_MIN_DELAY` after the caller's speech (in practice when
its transcript arrives); an unfinished one waits up to `ENDPOINTING_MAX_DELAY` for the caller to
go on, and a caller who does within it is never cut off.
"""

from __future__ import annotations

import re
import unicodedata

from livekit.agents import TurnHandlingOptions, inference
from livekit.agents.llm import ChatContext
from livekit.agents.voice.turn import TurnDetectionMode

from app.settings import Settings

FINISHED, UNFINISHED = 1.0, 0.0
THRESHOLD = 0.5

_DANGLING_EN = frozenset(
    """a an the and or but so because if unless than of for with from to at by into onto via
    about regarding concerning my your our their its um uh er erm i we i'm i'd i've we're
    it's there's that's which whose whether plus minus""".split()
)
_DANGLING_AR = frozenset(
    """و أو او ثم لكن بس في من إلى الى على عن مع أن ان إن لأن لان عشان حتى بخصوص حول يعني
    إذا اذا لو الذي التي الذين اللي رقمي اسمي عنواني بريدي هو هي""".split()
)
"""Words after which a sentence goes on: articles, conjunctions, prepositions, possessives,
fillers, a subject with its verb still to come, and (Arabic) "my number", "my name"."""
_INTROS = (
    ("number", "is"),
    ("name", "is"),
    ("email", "is"),
    ("address", "is"),
    ("problem", "is"),
    ("issue", "is"),
    ("reason", "is"),
    ("code", "is"),
    ("رقم", "الطلب"),
    ("رقم", "الهاتف"),
    ("رقم", "هاتفي"),
    ("رقم", "جوالي"),
    ("رقم", "الجوال"),
    ("رقم", "الفاتورة"),
)
"""Two last words that announce what comes next ("my number is ...", "رقم الطلب ...")."""
PHONE_DIGITS = 9
"""A number read out from a leading 0 or + has at least this many digits when complete."""

_HOLDING_END = re.compile(r"(\.\.\.|…|[,،:;\-–—])$")
_QUESTION_END = re.compile(r"[?؟]$")
_WORD = re.compile(r"[\w'’]+")
_DIGITS_TAIL = re.compile(r"(\+?[\d٠-٩][\d٠-٩ ]*)$")
_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670\u0640]")


def sounds_finished(text: str) -> bool:
    """Whether a caller's turn, as transcribed, reads as finished."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return True
    if _QUESTION_END.search(text):
        return True  # the recognizer heard a question
    if _HOLDING_END.search(text):
        return False  # "...", a comma, a colon or a dash: more is coming
    body = text.rstrip(".!")
    words = [_ARABIC_MARKS.sub("", w).casefold().replace("’", "'") for w in _WORD.findall(body)]
    if not words:
        return True
    if words[-1] in _DANGLING_EN or words[-1] in _DANGLING_AR:
        return False
    if tuple(words[-2:]) in _INTROS:
        return False
    if tail := _DIGITS_TAIL.search(body):
        digits = re.sub(r"\D", "", tail.group(1))
        if tail.group(1).lstrip().startswith(("0", "+", "٠")) and len(digits) < PHONE_DIGITS:
            return False  # a phone number read out in groups, not all there yet
    return True


class TranscriptTurnDetector:
    """A turn detector (livekit-agents' `_TurnDetector` protocol) that reads the transcript."""

    @property
    def model(self) -> str:
        return "ornina-transcript"

    @property
    def provider(self) -> str:
        return "ornina"

    async def unlikely_threshold(self, language: object) -> float:
        return THRESHOLD

    async def supports_language(self, language: object) -> bool:
        return True

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, timeout: float | None = None
    ) -> float:
        last = chat_ctx.items[-1] if chat_ctx.items else None
        text = getattr(last, "text_content", None) or ""
        return FINISHED if sounds_finished(text) else UNFINISHED


def turn_detector(settings: Settings) -> TurnDetectionMode:
    if settings.turn_detector == "audio":
        return inference.TurnDetector(version="v1-mini")
    return TranscriptTurnDetector()


def turn_handling(
    settings: Settings, turn_detection: TurnDetectionMode | None
) -> TurnHandlingOptions:
    """The session's turn handling: the detector, the endpointing delays from the settings, and
    barge-in by VAD (adaptive interruption needs LiveKit Cloud)."""
    return TurnHandlingOptions(
        turn_detection=turn_detection,
        endpointing={
            "mode": "fixed",
            "min_delay": settings.endpointing_min_delay,
            "max_delay": settings.endpointing_max_delay,
        },
        interruption={"mode": "vad"},
    )
