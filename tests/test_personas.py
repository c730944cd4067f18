"""The three personas as data: names, prompts and greetings in both languages, transfers."""

from __future__ import annotations

import dataclasses
import re
import types

import pytest

import personas
from personas import (
    LANGUAGES,
    PERSONAS,
    Persona,
    PersonaType,
    UnknownLanguage,
    UnknownPersona,
    get_greeting,
    get_persona,
    get_system_prompt,
    may_transfer,
)

ARABIC = re.compile(r"[\u0600-\u06FF]")
NAMES = {
    "reception": {"en": "Ahmed", "ar": "أحمد"},
    "sales": {"en": "Sarah", "ar": "سارة"},
    "complaints": {"en": "Mohammed", "ar": "محمد"},
}


def test_three_personas_with_their_names():
    assert {p.value for p in PERSONAS} == set(NAMES)
    for key, names in NAMES.items():
        persona = get_persona(key)
        assert persona.key == key
        assert dict(persona.name) == names
    assert LANGUAGES == ("ar", "en")


@pytest.mark.parametrize("key", list(NAMES))
@pytest.mark.parametrize("language", ["ar", "en"])
def test_prompts_and_greetings_exist_in_both_languages(key: str, language: str):
    persona = get_persona(key)
    prompt = get_system_prompt(key, language)
    greeting = get_greeting(key, language)
    for text in (prompt, greeting, persona.handoff_intro[language], persona.department[language]):
        assert text.strip()
        assert bool(ARABIC.search(text)) == (language == "ar"), text
    assert persona.name[language] in prompt
    assert persona.name[language] in greeting
    assert ("أورنينا" if language == "ar" else "Ornina") in prompt
    welcome = get_greeting(key, language, caller_name="Lina {x}")
    assert "Lina {x}" in welcome and persona.name[language] in welcome
    back = get_greeting(key, language, caller_name="Lina", returning=True)
    assert "Lina" in back and persona.name[language] in back and back != welcome


@pytest.mark.parametrize("key", list(NAMES))
def test_only_a_returning_caller_is_welcomed_back(key: str):
    back = ("back", "بعودتك")
    for language in ("ar", "en"):
        for first in (get_greeting(key, language), get_greeting(key, language, "Lina")):
            assert not any(word in first for word in back), first
        returning = get_greeting(key, language, "Lina", returning=True)
        assert any(word in returning for word in back), returning


def test_prompts_differ_per_persona_and_language():
    prompts = {get_system_prompt(k, lang) for k in NAMES for lang in ("ar", "en")}
    assert len(prompts) == 6


@pytest.mark.parametrize("key", ["", "Reception", "billing", "ahmed", None, 1])
def test_unknown_persona_is_a_clear_error(key: object):
    with pytest.raises(UnknownPersona, match="unknown persona") as raised:
        get_system_prompt(key, "ar")  # type: ignore[arg-type]
    assert "reception" in str(raised.value)
    with pytest.raises(UnknownPersona):
        get_greeting(key, "en")  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["", "fr", "AR", "arabic", None])
def test_unknown_language_is_a_clear_error(language: object):
    with pytest.raises(UnknownLanguage, match="unknown language") as raised:
        get_system_prompt("sales", language)  # type: ignore[arg-type]
    assert "ar" in str(raised.value) and "en" in str(raised.value)
    with pytest.raises(UnknownLanguage):
        get_greeting("sales", language)  # type: ignore[arg-type]


def test_transfer_table_is_consistent():
    for persona in PERSONAS.values():
        assert persona.transfers_to, persona.key
        assert persona.key not in persona.transfers_to, f"{persona.key} transfers to itself"
        assert len(set(persona.transfers_to)) == len(persona.transfers_to)
        for target in persona.transfers_to:
            assert target in PERSONAS
            assert may_transfer(persona.key, target)
        assert not may_transfer(persona.key, persona.key)
    # Reception routes to both departments, and every persona can be reached from reception.
    assert set(get_persona("reception").transfers_to) == {PersonaType.SALES, PersonaType.COMPLAINTS}
    reached, frontier = {PersonaType.RECEPTION}, [PersonaType.RECEPTION]
    while frontier:
        for target in PERSONAS[frontier.pop()].transfers_to:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(PERSONAS)


def test_personas_have_distinct_voices():
    assert len({p.voice_setting for p in PERSONAS.values()}) == 3
    assert len({p.openai_voice for p in PERSONAS.values()}) == 3


def test_no_process_global_current_persona():
    for name, value in vars(personas).items():
        if isinstance(value, types.ModuleType) or name.startswith("__"):
            continue
        assert not re.search(r"current|active|selected", name, re.IGNORECASE), name
        assert not isinstance(value, Persona), f"module-level persona {name!r}"
        if isinstance(value, PersonaType):
            pytest.fail(f"module-level persona key {name!r}")
    with pytest.raises(TypeError):
        PERSONAS[PersonaType.SALES] = PERSONAS[PersonaType.RECEPTION]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PERSONAS[PersonaType.SALES].transfers_to = ()  # type: ignore[misc]
