"""Outbound callbacks from a ticket or a follow-up (operators with `calls.place`)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlite_utils import Database

from app.auth import Actor, Can, OperatorDep, record_change
from app.crm import calls
from app.deps import SettingsDep
from app.routers.pagination import PathId
from app.schemas import CallbackPlaced, error_responses
from app.settings import Settings
from app.telephony.callbacks import callback_target, dial, new_callback_room, open_callback_call

router = APIRouter(
    prefix="/api",
    tags=["callbacks"],
    dependencies=[OperatorDep],
    responses=error_responses(401, 403, 404, 409, 422, 502, 503),
)


async def _place(
    request: Request, settings: Settings, actor: Actor, *, kind: str, item_id: int
) -> dict:
    writer = request.app.state.crm_writer
    await writer.run(callback_target, kind=kind, item_id=item_id)
    if not settings.sip_outbound_address:
        raise HTTPException(409, "callbacks need an outbound trunk: set SIP_OUTBOUND_ADDRESS")
    admission = await request.app.state.worker_gate.check()
    room = admission.room = new_callback_room()

    def open_call(db: Database) -> dict:
        call = open_callback_call(db, settings, kind=kind, item_id=item_id, room=room)
        record_change(db, actor, "call.callback", kind, item_id, call_id=call["id"], room=room)
        return call

    call = await writer.run(open_call)
    try:
        await dial(settings, call)
    except HTTPException:
        await writer.run(calls.end_call, call_id=call["id"], outcome="dial_failed")
        raise
    return {"call_id": call["id"], "room": room, "status": "dialling"}


@router.post("/tickets/{ticket_id}/callback", status_code=202, response_model=CallbackPlaced)
async def call_back_about_ticket(
    ticket_id: PathId, request: Request, settings: SettingsDep, actor: Can("calls.place")
) -> dict:
    """Phone the ticket's customer back (Support calls, about the ticket) on the number on their
    record: 202 with the call; 409 without a customer, a phone number or an outbound trunk,
    503 while no worker can answer, 502 when LiveKit refuses the call."""
    return await _place(request, settings, actor, kind="ticket", item_id=ticket_id)


@router.post("/follow-ups/{follow_up_id}/callback", status_code=202, response_model=CallbackPlaced)
async def call_back_about_follow_up(
    follow_up_id: PathId,
    request: Request,
    settings: SettingsDep,
    actor: Can("calls.place"),
) -> dict:
    """Phone the follow-up's customer (Sales calls, about the follow-up); answers as for a
    ticket."""
    return await _place(request, settings, actor, kind="follow_up", item_id=follow_up_id)
