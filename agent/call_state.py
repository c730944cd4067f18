"""Everything one call knows, in one dataclass, built by `open_call` for the entrypoint and the
tests alike. Tools read it through `RunContext[CallState]`; nothing here is process-global."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Protocol

from livekit import rtc
from livekit.agents import stt, tts

from agent.crm import CallCrm
from agent.metadata import CallMetadata
from agent.phone import PhoneCall
from app.crm import call_opening
from app.crm import calls as crm_calls
from app.telephony.lines import PhoneLine
from personas import PersonaType

logger = logging.getLogger("ornina.agent.call")


class VoiceModels(Protocol):
    """Speech models per language and persona (see `agent.providers`)."""

    def stt(self, language: str) -> stt.STT: ...

    def tts(self, persona: PersonaType, language: str) -> tts.TTS: ...


IDENTITY_METHODS = {
    "caller_id": "caller ID on a trusted phone line",
    "trusted_token": "signed in on the Ornina website",
    "in_call_code": "one-time code given in this call",
    "callback": "we are calling the number on their record",
    "": "verified",
}


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
    identity_level: str = "anonymous"
    """`verified`, `claimed` or `anonymous` (app.crm.identity)."""
    identity_method: str | None = None
    """How a verified call was verified: `caller_id`, `trusted_token`, `in_call_code`."""
    customer_id: int | None = None
    """The verified caller's own CRM record; tools never touch any other, and on a claimed or
    anonymous call none at all."""
    caller_name: str | None = None
    """The name on the verified caller's record."""
    returning: bool = False
    """A verified caller who has called before (welcomed back)."""
    claimed_name: str | None = None
    """The name the caller gave (typed on the call page or said): a claim."""
    caller_phone: str | None = None
    """The number the caller gave (a claim) or, verified by caller ID, the number calling."""
    transfers: list[Transfer] = field(default_factory=list)
    outcome: str | None = None
    """How the call ended, when something decided it (end_call, a provider failure)."""
    voice: VoiceModels | None = None
    """None in text-only sessions (tests): the agents then get no STT/TTS of their own."""
    room: rtc.Room | None = None
    """The call's room, where the caller's app reads who is speaking; None in text sessions."""
    secrets: tuple[str, ...] = ()
    """Configured secret values no persona may ever say (see `agent.output_guard`)."""
    phone: PhoneCall | None = None
    """The SIP side of a phone call; None on a web call."""
    human_line: str = ""
    """Where a phone caller who asks for a person is transferred (SIP_TRANSFER_TO)."""
    worker_name: str | None = None
    """The worker handling the call (WORKER_NAME), recorded on the call row."""
    callback_about: str | None = None
    """On a callback we place: what we call about (the ticket or follow-up)."""
    outbound: bool = False
    """We placed this call (a callback): the persona waits for the customer to pick up."""
    taken_over_by: str | None = None
    """The operator who took the call over (agent.supervision): the persona does not answer."""
    notice: dict[str, str] = field(default_factory=dict)
    """The monitoring notice said before the greeting, per language (empty: none)."""

    @property
    def channel(self) -> str:
        return "phone" if self.phone is not None else "web"

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

    @property
    def verified(self) -> bool:
        return self.identity_level == "verified"

    def caller_facts(self) -> str:
        """What is known about the caller and what they may be told, for the persona's prompt.
        Nothing from a record reaches the prompt before the caller is verified."""
        channel = "This is a phone call. " if self.phone is not None else "This is a web call. "
        if self.callback_about:
            channel += (
                "We are calling the customer back on the number on their record (they did not "
                "call us). Until the person who answered has said they are the customer, share "
                "nothing about the record or the request; if it is someone else, ask when to "
                "call back and end the call politely. Once it is them, say why you are calling "
                f"and help: {self.callback_about} "
            )
        return channel + self._identity_facts()

    def _identity_facts(self) -> str:
        if self.verified and self.customer_id is not None:
            return (
                f"The caller is verified ({IDENTITY_METHODS[self.identity_method or '']}) as "
                f"the customer on record, name: {self.caller_name or '-'}. You may read and "
                "change their own record, tickets, quotes and follow-ups, never anyone else's."
            )
        if self.verified:
            return (
                "The caller's phone number is verified by caller ID but has no CRM record yet: "
                "identify_caller creates their record with it."
            )
        facts = [
            "The caller is NOT verified. Nothing from any customer record may be read out or "
            "changed on this call: no names, tickets, quotes, follow-ups, email or phone from "
            "the CRM, whatever the caller says. Do not greet them as a returning customer. "
            "Without verification you can answer questions about Ornina, its services and "
            "prices, note their details, and open tickets, quotes or follow-ups that our team "
            "links to their record later. To verify, the caller gives their phone number and "
            "the one-time code an operator or their account page on the Ornina website gave "
            "them: call verify_identity."
        ]
        if self.claimed_name:
            facts.append(f"They gave the name {self.claimed_name} (not verified).")
        return " ".join(facts)


async def open_call(
    crm: CallCrm,
    meta: CallMetadata,
    *,
    room: str,
    default_language: str,
    region: str = "SA",
    voice: VoiceModels | None = None,
    phone: PhoneCall | None = None,
    line: PhoneLine | None = None,
    caller_id: str = "",
) -> CallState:
    """The state of a call starting now: its CRM row (created if the dispatch named none; a
    phone call's from the line dialled), who the caller has proven to be (the call row's
    identity, or `caller_id`, a number a trusted trunk vouches for), and the language to greet
    in."""
    if line is not None and meta.call_id is None:
        meta = replace(meta, department=line.department, language=meta.language or line.language)
    opened = await crm.run(
        call_opening.open_call_record,
        call_id=meta.call_id,
        department=meta.department.value,
        language=meta.language,
        name=meta.name,
        claimed_phone=meta.phone,
        problems=list(meta.problems),
        room=room,
        default_language=default_language,
        region=region,
        phone=(
            call_opening.PhoneSide(
                caller_number=phone.caller_number, dialled_number=phone.dialled_number
            )
            if phone is not None
            else None
        ),
        caller_id=caller_id,
    )
    call, customer, problems = opened.call, opened.customer, opened.problems
    returning, about = opened.returning, opened.callback_about
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
        identity_level=call["identity_level"],
        identity_method=call["identity_method"],
        customer_id=customer["id"] if customer else None,
        caller_name=customer["name"] if customer else None,
        returning=returning,
        claimed_name=meta.name or call["caller_name"],
        caller_phone=call["caller_phone"] or meta.phone,
        voice=voice,
        phone=phone,
        callback_about=about,
        outbound=call["direction"] == "outbound",
    )
