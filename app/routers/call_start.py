"""The public entry point of a call: `POST /api/calls`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlite_utils import Database

from app.crm import calls, customers, writing
from app.crm.phones import normalise_phone
from app.deps import SettingsDep, client_address
from app.livekit_tokens import caller_token, job_metadata, new_room_name
from app.schemas import CallCreate, CallStarted, error_responses
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["calls"], responses=error_responses(400, 422, 429, 503))


def start_call(
    db: Database,
    settings: Settings,
    body: CallCreate,
    *,
    identity: str | None = None,
    participant_metadata: str | None = None,
    attributes: dict[str, str] | None = None,
) -> CallStarted:
    """Create the call row and mint a caller token that dispatches our agent into a new room."""
    phone = normalise_phone(body.phone, settings.phone_default_region) if body.phone else None
    room = new_room_name()
    # one write transaction for the customer, the call and its first event
    with writing(db):
        customer = (
            customers.find_or_create_by_phone(
                db, phone=phone, name=body.name, region=settings.phone_default_region
            )
            if phone
            else None
        )
        # unless the call asks otherwise, a known caller hears the language of their last call
        language = body.language or (customer or {}).get("language") or settings.default_language
        call = calls.create_call(
            db,
            room=room,
            language=language,
            department=body.department,
            customer_id=customer["id"] if customer else None,
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
        livekit_url=settings.livekit_url,
        token=token,
        language=language,
        department=body.department,
    )


@router.post("/calls", status_code=201, response_model=CallStarted)
async def create_call(body: CallCreate, request: Request, settings: SettingsDep) -> CallStarted:
    """Start a call: returns the room, the LiveKit URL and a caller token (public, rate-limited)."""
    request.app.state.call_rate_limiter.check(client_address(request))
    await request.app.state.worker_gate.check()
    return await request.app.state.crm_writer.run(start_call, settings, body)
