"""The public entry point of a call: `POST /api/calls`.

A call start never creates or changes a customer row: a name or number typed on the public
page is a claim, kept on the call. Only a trusted backend (the `X-Server-Key`) may name a
customer, and so start a call verified as that customer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from sqlite_utils import Database

from app.crm import calls, customers, writing
from app.crm.phones import normalise_phone
from app.deps import SettingsDep, check_server_key, client_address
from app.livekit_tokens import caller_token, job_metadata, new_room_name
from app.schemas import CallCreate, CallStarted, error_responses
from app.settings import Settings
from app.worker_gate import Admission

router = APIRouter(
    prefix="/api", tags=["calls"], responses=error_responses(400, 401, 403, 404, 422, 429, 503)
)


def start_call(
    db: Database,
    settings: Settings,
    body: CallCreate,
    *,
    identity: str | None = None,
    participant_metadata: str | None = None,
    attributes: dict[str, str] | None = None,
) -> CallStarted:
    """Create the call row and mint a caller token that dispatches our agent into a new room.

    `body.customer_id` must have been authorised (`check_server_key`) by the caller of this."""
    phone = normalise_phone(body.phone, settings.phone_default_region) if body.phone else None
    room = new_room_name()
    # one write transaction for the call and its first event
    with writing(db):
        customer = (
            customers.get_customer(db, customer_id=body.customer_id)
            if body.customer_id is not None
            else None
        )
        # a verified caller hears the language of their last call unless the call asks otherwise
        language = body.language or (customer or {}).get("language") or settings.default_language
        call = calls.create_call(
            db,
            room=room,
            language=language,
            department=body.department,
            customer_id=customer["id"] if customer else None,
            identity_method="trusted_token" if customer else None,
            caller_name=body.name,
            caller_phone=phone,
        )
        calls.add_event(
            db, call_id=call["id"], kind="dispatched", agent_name=settings.agent_name, room=room
        )
    metadata = job_metadata(
        call_id=call["id"],
        department=body.department,
        language=language,
        name=body.name,
        phone=phone,
    )
    token = caller_token(
        settings,
        room=room,
        metadata=metadata,
        display_name=body.name,
        identity=identity,
        participant_metadata=participant_metadata,
        attributes=attributes,
    )
    return CallStarted(
        call_id=call["id"],
        room=room,
        livekit_url=settings.browser_livekit_url,
        token=token,
        language=language,
        department=body.department,
        identity_level=call["identity_level"],
    )


async def admit_call(
    request: Request, settings: Settings, body: CallCreate, server_key: str | None
) -> Admission:
    """What every call start checks before its row is written: a named customer needs the
    trusted backend's key (a valid key skips the per-address limit: one backend speaks for
    many customers; a wrong one counts against it), anyone else the rate limit; and a worker
    must be able to answer."""
    limiter = request.app.state.call_rate_limiter
    if body.customer_id is not None:
        try:
            check_server_key(settings, server_key)
        except HTTPException:
            limiter.check(client_address(request))
            raise
    else:
        limiter.check(client_address(request))
    return await request.app.state.worker_gate.check()


@router.post("/calls", status_code=201, response_model=CallStarted)
async def create_call(
    body: CallCreate,
    request: Request,
    settings: SettingsDep,
    x_server_key: Annotated[str | None, Header()] = None,
) -> CallStarted:
    """Start a call: returns the room, the LiveKit URL and a caller token (public, rate-limited;
    with the trusted backend's `X-Server-Key`, `customer_id` starts a verified call)."""
    admission = await admit_call(request, settings, body, x_server_key)
    started = await request.app.state.crm_writer.run(start_call, settings, body)
    admission.room = started.room
    return started
