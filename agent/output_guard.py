"""Whatever a caller talks the model into, a persona never says its own instructions or a
configured secret: a reply that carries a run of consecutive words from the persona's prompt,
or any secret value from the settings, is cut and replaced by a short refusal in the call's
language.

The reply is checked as it streams, one sentence at a time, before the sentence reaches the
voice or the transcript; the first sentence that would complete a leak is withheld with all
that follows, and the caller hears the refusal instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterable, Iterable

from livekit.agents.llm import ChatChunk
from livekit.agents.types import FlushSentinel
from pydantic import SecretStr

from app.settings import Settings

PROMPT_RUN_WORDS = 8
"""This many consecutive words of the persona's prompt in a reply make it a leak."""
MIN_SECRET_LENGTH = 8
"""Shorter configured values (the local dev secret "secret") are ordinary words."""
REFUSAL = {
    "en": "Sorry, I can't share that. How else can I help you?",
    "ar": "عذراً، لا أستطيع مشاركة ذلك. كيف يمكنني مساعدتك بشيء آخر؟",
}

_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670\u0640]")  # harakat, dagger alif, tatweel
_WORD = re.compile(r"\w+")
# a sentence ends at . ! ? ؟ or a line break followed by a space: never inside a number,
# an address or a key
_SENTENCE_END = re.compile(r"[.!?؟\n](?=\s)")


def configured_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret the settings hold (API keys and the LiveKit secret)."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return tuple(v.get_secret_value() for v in values if isinstance(v, SecretStr))


def _words(text: str) -> list[str]:
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text).casefold())
    return _WORD.findall(text)


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    n = PROMPT_RUN_WORDS
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class OutputGuard:
    def __init__(self, prompt: str, secrets: Iterable[str] = ()) -> None:
        self._prompt_runs = _runs(_words(prompt))
        self._secrets = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
        self.blocked: str | None = None
        """Why the reply was cut ("secret" or "system_prompt"), once it was."""

    def leak(self, text: str) -> str | None:
        """What `text` would leak, if anything."""
        squeezed = "".join(text.split())
        if any(secret in text or secret in squeezed for secret in self._secrets):
            return "secret"
        if self._prompt_runs & _runs(_words(text)):
            return "system_prompt"
        return None

    async def filter(
        self, stream: AsyncIterable[ChatChunk | str], refusal: str
    ) -> AsyncIterable[ChatChunk | str | FlushSentinel]:
        """The model's stream with its text let through a sentence at a time; tool calls and
        usage pass untouched. After a leak, the refusal is said and the rest of the text is
        dropped.

        The first sentence let through is followed by a flush, so the voice starts on it at
        once: without one, the framework's sentence tokenizer holds it until the next sentence
        has begun, which here means until the whole next sentence was generated and checked
        (BENCHMARKS.md, "Turn-taking")."""
        said = ""
        pending = ""
        flushed = False

        def release(text: str) -> str:
            nonlocal said
            if self.blocked is not None or not text:
                return ""
            reason = self.leak(said + text)
            if reason is not None:
                self.blocked = reason
                return (" " if said else "") + refusal
            said += text
            return text

        async for chunk in stream:
            if isinstance(chunk, str):
                text, passed = chunk, None
            elif isinstance(chunk, ChatChunk) and chunk.delta is not None and chunk.delta.content:
                text = chunk.delta.content
                delta = chunk.delta.model_copy(update={"content": None})
                passed = chunk.model_copy(update={"delta": delta})
                if not (delta.tool_calls or delta.extra or chunk.usage is not None):
                    passed = None
            elif isinstance(chunk, ChatChunk):  # tool calls, usage
                yield chunk
                continue
            else:  # a flush: what is pending goes first
                if out := release(pending):
                    yield out
                pending = ""
                yield chunk
                continue
            pending += text
            ends = list(_SENTENCE_END.finditer(pending))
            if ends:
                cut = ends[-1].end()
                if out := release(pending[:cut]):
                    yield out
                    if not flushed:
                        flushed = True
                        yield FlushSentinel()
                pending = pending[cut:]
            if passed is not None:
                yield passed
        if out := release(pending):
            yield out
