"""The transcript turn detector (agent/turn_taking.py): which transcribed turns read as
finished, through the livekit-agents turn-detector protocol the session calls."""

from __future__ import annotations

import pytest
from livekit.agents.llm import ChatContext
from livekit.agents.voice import turn

from agent.turn_taking import TranscriptTurnDetector, sounds_finished, turn_detector, turn_handling
from app.settings import Settings
from tests.agent.test_agent_worker import BASE

FINISHED = [
    "I would like some information please.",
    "Hello, how much does a website cost?",
    "Please make me a quote for two of them.",
    "Yes.",
    "okay",
    "What is it about?",
    "My order number is 48213.",
    "My number is 0944 111 222.",
    "Call me on +963 944 111 222",
    "أريد بعض المعلومات من فضلك.",
    "رقمي 0944 111 222.",
    "نعم",
    "من هو؟",
]
UNFINISHED = [
    "My number is",
    "My number is.",
    "my number is 0944",
    "I'd like to order a",
    "I called last week and",
    "The problem is with the",
    "So",
    "Well, I was thinking...",
    "I need three things:",
    "رقمي",
    "رقمي 0944",
    "أريد أن",
    "المشكلة في",
    "رقم الطلب",
    "اتصلت لكن",
    "يعني،",
]


@pytest.mark.parametrize("text", FINISHED)
def test_finished_turns(text: str):
    assert sounds_finished(text)


@pytest.mark.parametrize("text", UNFINISHED)
def test_unfinished_turns(text: str):
    assert not sounds_finished(text)


async def test_the_detector_answers_the_framework_protocol_from_the_last_caller_words():
    detector = TranscriptTurnDetector()
    threshold = await detector.unlikely_threshold("en")
    ctx = ChatContext.empty()
    ctx.add_message(role="assistant", content="Hello, how can I help you?")
    ctx.add_message(role="user", content="My number is")
    assert await detector.predict_end_of_turn(ctx) < threshold
    ctx.add_message(role="user", content="My number is 0944 111 222.")
    assert await detector.predict_end_of_turn(ctx) >= threshold
    assert await detector.supports_language("ar")
    # a non-streaming detector: the framework decides from the transcript, not the audio
    assert not isinstance(detector, turn._StreamingTurnDetector)


def test_the_settings_choose_the_detector_and_the_delays():
    settings = Settings(**BASE, endpointing_min_delay=0.4, endpointing_max_delay=1.8)
    options = turn_handling(settings, turn_detector(settings))
    assert isinstance(options["turn_detection"], TranscriptTurnDetector)
    assert options["endpointing"]["min_delay"] == 0.4
    assert options["endpointing"]["max_delay"] == 1.8
    audio = Settings(**BASE, turn_detector="audio")
    assert isinstance(turn_detector(audio), turn._StreamingTurnDetector)


@pytest.mark.parametrize(
    "values",
    [
        {"endpointing_min_delay": 2.0, "endpointing_max_delay": 1.0},
        {"turn_detector": "audio", "vad_min_silence": 0.2},
        {"turn_detector": "words"},
        {"vad_min_silence": 0.0},
    ],
)
def test_bad_turn_taking_settings_are_refused(values: dict):
    with pytest.raises(ValueError):
        Settings(**BASE, **values)


def test_the_framework_protocol_is_still_the_one_the_detector_implements():
    """`TranscriptTurnDetector` implements livekit-agents' private `_TurnDetector` protocol
    (the text-based turn detector's); this fails when an upgrade changes it."""
    import inspect

    from livekit.agents.voice import audio_recognition

    for name in ("unlikely_threshold", "supports_language", "predict_end_of_turn"):
        theirs = inspect.signature(getattr(turn._TurnDetector, name))
        ours = inspect.signature(getattr(TranscriptTurnDetector, name))
        assert list(theirs.parameters) == list(ours.parameters), name
    assert {"model", "provider"} <= set(vars(turn._TurnDetector))
    source = inspect.getsource(audio_recognition.AudioRecognition)
    # a non-streaming detector is asked with the transcript in the chat context
    assert 'chat_ctx.add_message(role="user", content=self._audio_transcript)' in source
    assert "await turn_detector.predict_end_of_turn(" in source
