"""A phone call as the worker sees it: the SIP participant LiveKit's SIP service put in the
room (caller number, dialled number, trunk), whether its trunk's caller ID is trusted, waiting
for a callback to be answered, and the SIP REFER that hands the caller to a person."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from livekit import api, rtc

from app.crm import InvalidInput
from app.crm.phones import normalise_phone
from app.telephony import provisioning

logger = logging.getLogger("ornina.agent.phone")

SIP_PHONE = "sip.phoneNumber"
SIP_DIALLED = "sip.trunkPhoneNumber"
SIP_TRUNK = "sip.trunkID"
SIP_STATUS = "sip.callStatus"
ANSWERED = "active"
ENDED = ("hangup", "disconnected")


@dataclass(frozen=True)
class PhoneCall:
    participant_identity: str
    caller_number: str
    """The caller's number (E.164), "" when the trunk sent none we can read."""
    international: bool
    """The trunk sent the number in E.164 (a national number read with PHONE_DEFAULT_REGION may
    be another country's: it never verifies anyone)."""
    dialled_number: str
    """The number the caller dialled (one of SIP_LINES), or ours on a callback."""
    trunk_id: str


def phone_call(participant: rtc.RemoteParticipant | None, region: str) -> PhoneCall | None:
    """The phone side of a call, when its participant is of the SIP kind (only LiveKit's SIP
    service can join as one; a web caller's token cannot)."""
    if participant is None or participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        return None
    attributes = participant.attributes
    raw = attributes.get(SIP_PHONE, "").strip()
    try:
        number = normalise_phone(raw, region)
    except InvalidInput:
        number = ""
    return PhoneCall(
        participant_identity=participant.identity,
        caller_number=number,
        international=raw.startswith("+"),
        dialled_number=attributes.get(SIP_DIALLED, "").strip()[:32],
        trunk_id=attributes.get(SIP_TRUNK, ""),
    )


async def trusted_trunks(
    lk: api.LiveKitAPI, configured: frozenset[str], *, trust_provisioned: bool
) -> frozenset[str]:
    """The trunk ids whose caller ID verifies a caller: SIP_TRUSTED_TRUNKS, plus our own
    provisioned inbound trunk when SIP_TRUST_CALLER_ID is on."""
    if not trust_provisioned:
        return configured
    try:
        own = await provisioning.inbound_trunk_id(lk)  # one request, before the greeting
    except Exception:
        logger.warning("could not look up the inbound trunk: caller ID not trusted", exc_info=True)
        return configured
    return configured | {own} if own else configured


async def wait_until_answered(
    room: rtc.Room, participant: rtc.RemoteParticipant, timeout: float
) -> bool:
    """For a callback: True once the person we call picks up (the SIP participant's status
    turns `active`), False if they do not answer in time, decline or hang up."""
    answered = asyncio.get_running_loop().create_future()

    def check(*_: object) -> None:
        status = participant.attributes.get(SIP_STATUS, "")
        if not answered.done() and (status == ANSWERED or status in ENDED):
            answered.set_result(status == ANSWERED)

    def left(who: rtc.RemoteParticipant) -> None:
        if who.identity == participant.identity and not answered.done():
            answered.set_result(False)

    room.on("participant_attributes_changed", check)
    room.on("participant_disconnected", left)
    try:
        check()
        return await asyncio.wait_for(answered, timeout)
    except TimeoutError:
        return False
    finally:
        room.off("participant_attributes_changed", check)
        room.off("participant_disconnected", left)


async def refer(lk: api.LiveKitAPI, *, room: str, identity: str, to: str) -> None:
    """Hand the caller to `to` with a SIP REFER; raises when LiveKit refuses. livekit-api 1.2.2
    against livekit-server 1.13.5 answers a successful transfer with an empty message (status
    0): no exception means done."""
    await lk.sip.transfer_sip_participant(
        api.TransferSIPParticipantRequest(
            room_name=room, participant_identity=identity, transfer_to=to, play_dialtone=False
        )
    )
