"""Everything one call knows, in one dataclass, built by `open_call` for the entrypoint and the
tests alike. Tools read it through `RunContext[CallState]`; nothing here is process-global."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from livekit import rtc
from livekit.agents import stt, tts
from sqlite_utils import Database

from agent.crm import CallCrm
from agent.metadata import CallMetadata
from app.crm import NotFound
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from personas import PersonaType

logger = logging.getLogger("ornina.agent.call")


class VoiceModels(Protocol):
    """Speech models per language and persona (see `agent.providers`)."""

    def stt(self, language: str) -> stt.STT: ...

    def tts(self, persona: PersonaType, language: str) -> tts.TTS: ...


@dataclass(frozen=True)
class Transfer:
    source: PersonaType
    target: PersonaType
    reason: str
    summary: str


@dataclass
class CallState:
    call_id: int
    crm: CallCrm
    persona: PersonaType
    language: str
    region: str = "SA"
    customer_id: int | None = None
    """The caller's own CRM record, once known; tools never touch any other."""
    caller_name: str | None = None
    """The name on the caller's record."""
    claimed_name: str | None = None
    """The name typed on the call page, not yet confirmed by a record."""
    caller_phone: str | None = None
    """The number the call was placed from (E.164), as the API recorded it."""
    transfers: list[Transfer] = field(default_factory=list)
    outcome: str | None = None
    """How the call ended, when something decided it (end_call, a provider failure)."""
    voice: VoiceModels | None = None
    """None in text-only sessions (tests): the agents then get no STT/TTS of their own."""
    room: rtc.Room | None = None
    """The call's room, where the caller's app reads who is speaking; None in text sessions."""
    secrets: tuple[str, ...] = ()
    """Configured secret values no persona may ever say (see `agent.output_guard`)."""

    async def announce(self) -> None:
        """Tell the caller's app who is speaking now, as attributes of the agent participant
        (`ornina.persona`, `ornina.language`): the call page shows a transfer from them."""
        if self.room is None or not self.room.isconnected():
            return
        attributes = {"ornina.persona": self.persona.value, "ornina.language": self.language}
        try:
            await self.room.local_participant.set_attributes(attributes)
        except Exception:
            logger.warning("could not publish the persona to the room", exc_info=True)

    def caller_facts(self) -> str:
        """What is already known about the caller, for the persona's prompt."""
        facts = []
        if self.customer_id is not None:
            facts.append(f"The caller's CRM record is on file (name: {self.caller_name or '-'}).")
        else:
            facts.append("The caller has no CRM record linked to this call yet.")
            if self.claimed_name:
                facts.append(f"On the call page they gave the name {self.claimed_name}.")
        if self.caller_phone:
            facts.append("The number the caller is calling from is on file.")
        return " ".join(facts)


async def open_call(
    crm: CallCrm,
    meta: CallMetadata,
    *,
    room: str,
    default_language: str,
    region: str = "SA",
    voice: VoiceModels | None = None,
) -> CallState:
    """The state of a call starting now: its CRM row (created if the dispatch named none), the
    caller's record if the number is known, and the language to greet in."""
    resolved = await crm.run(
        _resolve_call, meta=meta, room=room, default_language=default_language, region=region
    )
    call, customer, problems = resolved
    if problems:
        logger.warning("bad dispatch metadata", extra={"problems": problems, "room": room})
        crm.submit(
            crm_calls.add_event, call_id=call["id"], kind="metadata_invalid", problems=problems
        )
    return CallState(
        call_id=call["id"],
        crm=crm,
        persona=meta.department,
        language=call["language"],
        region=region,
        customer_id=customer["id"] if customer else None,
        caller_name=customer["name"] if customer else None,
        claimed_name=meta.name,
        caller_phone=meta.phone or call["caller_phone"],
        voice=voice,
    )


def _resolve_call(
    db: Database, *, meta: CallMetadata, room: str, default_language: str, region: str
) -> tuple[dict, dict | None, list[str]]:
    problems = list(meta.problems)
    call = None
    if meta.call_id is not None:
        try:
            call = crm_calls.get_call(db, call_id=meta.call_id)
        except NotFound:
            problems.append("call_id does not name a call")
    if call is None:
        call = _create_call(db, meta=meta, room=room, language=meta.language or default_language)

    customer = None
    phone = meta.phone or call["caller_phone"]
    if call["customer_id"] is not None:
        customer = crm_customers.get_customer(db, customer_id=call["customer_id"])
    elif phone:
        customer = crm_customers.find_by_phone(db, phone=phone, region=region)
        if customer is not None:
            crm_calls.set_call_customer(db, call_id=call["id"], customer_id=customer["id"])

    # the call's own choice first, then the language of the caller's last call
    language = meta.language or (customer or {}).get("language") or default_language
    if language != call["language"]:
        crm_calls.set_call_language(db, call_id=call["id"], language=language)
        call = crm_calls.get_call(db, call_id=call["id"])
    return call, customer, problems


def _create_call(db: Database, *, meta: CallMetadata, room: str, language: str) -> dict:
    fields = dict(
        language=language,
        department=meta.department.value,
        caller_name=meta.name,
        caller_phone=meta.phone,
    )
    try:
        return crm_calls.create_call(db, room=room, **fields)
    except sqlite3.IntegrityError:
        # the room already has a call row that the dispatch did not name: keep both apart
        return crm_calls.create_call(db, room=f"{room}#{uuid.uuid4().hex[:8]}", **fields)
