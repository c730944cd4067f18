"""Outbound callbacks: an operator asks us to phone a customer back about a ticket or a
follow-up. The call row is written first (verified: we dial the number on the customer's own
record), then the agent is dispatched into a fresh room and LiveKit's SIP service dials the
customer there through the outbound trunk; the persona greets once they pick up."""

from __future__ import annotations

import contextlib
import secrets

from fastapi import HTTPException
from google.protobuf.duration_pb2 import Duration
from livekit import api
from sqlite_utils import Database

from app.crm import calls, customers, follow_ups, tickets
from app.crm.errors import Conflict
from app.livekit_tokens import job_metadata
from app.settings import Settings
from app.telephony import provisioning

RINGING_TIMEOUT = Duration(seconds=60)
"""How long the customer's phone rings (the worker gives up after as long)."""
DEPARTMENT = {"ticket": "complaints", "follow_up": "sales"}
"""Who calls back: Support about a ticket, Sales about a follow-up."""


def new_callback_room() -> str:
    return f"callback-{secrets.token_hex(8)}"


def callback_target(db: Database, *, kind: str, item_id: int) -> dict:
    """The customer a callback about a ticket or a follow-up rings: 404 for no such item, 409
    when it has no customer yet (link its call first) or the customer no phone number."""
    item = (
        tickets.get_ticket(db, ticket_id=item_id)
        if kind == "ticket"
        else follow_ups.get_follow_up(db, follow_up_id=item_id)
    )
    if item["customer_id"] is None:
        raise Conflict(
            f"the {kind.replace('_', '-')} has no customer yet: link its call to one first"
        )
    customer = customers.get_customer(db, customer_id=item["customer_id"])
    if not customer["phone"]:
        raise Conflict("the customer has no phone number on record")
    return customer


def open_callback_call(
    db: Database, settings: Settings, *, kind: str, item_id: int, room: str
) -> dict:
    """The call row of a callback, verified as the customer we ring, with its first event."""
    customer = callback_target(db, kind=kind, item_id=item_id)
    call = calls.create_call(
        db,
        room=room,
        language=customer.get("language") or settings.default_language,
        department=DEPARTMENT[kind],
        customer_id=customer["id"],
        identity_method="callback",
        caller_phone=customer["phone"],
        channel="phone",
        direction="outbound",
        dialled_number=customer["phone"],
        callback_ticket_id=item_id if kind == "ticket" else None,
        callback_follow_up_id=item_id if kind == "follow_up" else None,
    )
    calls.add_event(
        db,
        call_id=call["id"],
        kind="callback_placed",
        about=kind,
        item_id=item_id,
        agent_name=settings.agent_name,
        room=room,
    )
    return call


async def dial(settings: Settings, call: dict) -> None:
    """Dispatch the agent into the call's room, then have the SIP service dial the customer.
    502 when LiveKit refuses (no outbound trunk provisioned, SIP service down)."""
    async with settings.livekit_api() as lk:
        try:
            trunk_id = await provisioning.outbound_trunk_id(lk)
        except Exception:
            raise HTTPException(502, "LiveKit's SIP service does not answer") from None
        if trunk_id is None:
            raise HTTPException(502, "the outbound trunk is not provisioned yet")
        metadata = job_metadata(
            call_id=call["id"],
            department=call["department"],
            language=call["language"],
            name=None,
            phone=None,
        )
        try:
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=settings.agent_name, room=call["room"], metadata=metadata
                )
            )
            await lk.sip.create_sip_participant(
                api.CreateSIPParticipantRequest(
                    sip_trunk_id=trunk_id,
                    sip_call_to=call["caller_phone"],
                    room_name=call["room"],
                    participant_identity=f"sip_{call['caller_phone']}",
                    participant_name="customer",
                    wait_until_answered=False,
                    ringing_timeout=RINGING_TIMEOUT,
                )
            )
        except Exception as error:
            # the agent may be dispatched already: the room goes, and the agent with it
            with contextlib.suppress(Exception):
                await lk.room.delete_room(api.DeleteRoomRequest(room=call["room"]))
            if isinstance(error, api.TwirpError):
                raise HTTPException(502, f"LiveKit refused the call: {error.message}") from None
            raise HTTPException(502, "LiveKit does not answer") from None
