"""Live supervision of a call in progress (operators with `calls.supervise`): listen in as a
hidden participant, take the call over from the persona, hand it back.

The API records each step as a call event with the operator, and tells the call's agent to
stop or resume answering with a data message from the server (topic `ornina.supervision`);
the agent accepts such messages only from the server, never from a participant.
"""

from __future__ import annotations

import contextlib
import json

import aiohttp
from fastapi import APIRouter, HTTPException, Request
from livekit import api
from sqlite_utils import Database

from app.auth import Actor, Can, OperatorDep, record_change
from app.crm import calls
from app.crm.errors import Conflict
from app.deps import SettingsDep
from app.livekit_tokens import listener_token, new_operator_identity, takeover_token
from app.routers.pagination import PathId
from app.schemas import HandBack, SupervisionJoin, error_responses
from app.settings import Settings

SUPERVISION_TOPIC = "ornina.supervision"

router = APIRouter(
    prefix="/api/calls",
    tags=["supervision"],
    dependencies=[OperatorDep],
    responses=error_responses(400, 401, 403, 404, 409, 422, 502),
)


def _live_call(db: Database, call_id: int) -> dict:
    call = calls.get_call(db, call_id=call_id)
    if call["status"] != "active":
        raise Conflict("the call is not in progress")
    return call


def _holder(db: Database, call_id: int) -> dict | None:
    """The `takeover` event of the operator who has the call now, or None."""
    rows = list(
        db.query(
            "SELECT kind, data FROM call_events WHERE call_id = ? AND kind IN ('takeover',"
            " 'handback') ORDER BY id DESC LIMIT 1",
            [call_id],
        )
    )
    if rows and rows[0]["kind"] == "takeover":
        return json.loads(rows[0]["data"])
    return None


def first_name(actor: Actor) -> str:
    """What the persona may call a colleague in front of the caller: a first name, never a
    login."""
    return (actor.name or "").split(" ")[0][:40] or "a colleague"


async def _livekit(settings: Settings, work) -> object:  # noqa: ANN001
    """`work(lk)` against LiveKit's server API; 502 when LiveKit refuses or does not answer."""
    async with settings.livekit_api() as lk:
        try:
            return await work(lk)
        except api.TwirpError as error:
            raise HTTPException(502, f"LiveKit refused: {error.message}") from None
        except (aiohttp.ClientError, OSError, TimeoutError):
            raise HTTPException(502, "LiveKit does not answer") from None


async def _tell_agent(settings: Settings, room: str, message: dict) -> None:
    """A data message from the server to the call's agent; 502 when it is not there."""

    async def send(lk: api.LiveKitAPI) -> None:
        people = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
        agent_kind = api.ParticipantInfo.AGENT
        agents = [p.identity for p in people.participants if p.kind == agent_kind]
        if not agents:
            raise HTTPException(502, "the call's agent is not in its room")
        await lk.room.send_data(
            api.SendDataRequest(
                room=room,
                data=json.dumps(message).encode(),
                kind=api.DataPacket.Kind.RELIABLE,
                topic=SUPERVISION_TOPIC,
                destination_identities=agents,
            )
        )

    await _livekit(settings, send)


def _event(db: Database, actor: Actor, call_id: int, kind: str, **data: object) -> None:
    calls.add_event(db, call_id=call_id, kind=kind, operator=actor.login, **data)
    record_change(db, actor, f"call.{kind}", "call", call_id, **data)


@router.post("/{call_id}/listen", status_code=201, response_model=SupervisionJoin)
async def listen_in(
    call_id: PathId, request: Request, settings: SettingsDep, actor: Can("calls.supervise")
) -> dict:
    """Listen in to a live call: a token for a hidden, subscribe-only participant of its room
    (both sides' audio and the captions); a `supervisor_joined` event."""
    writer = request.app.state.crm_writer

    def join(db: Database) -> dict:
        call = _live_call(db, call_id)
        _event(db, actor, call_id, "supervisor_joined")
        return call

    call = await writer.run(join)
    token = listener_token(settings, room=call["room"], name=actor.name)
    return _joined(settings, call, token)


@router.post("/{call_id}/takeover", status_code=201, response_model=SupervisionJoin)
async def take_over(
    call_id: PathId, request: Request, settings: SettingsDep, actor: Can("calls.supervise")
) -> dict:
    """Take a live call over: the persona tells the caller a colleague is joining and stops
    answering (the transcript goes on), and the token lets this operator speak to the caller
    with a microphone; a `takeover` event. 409 when someone has it already."""
    writer = request.app.state.crm_writer
    identity = new_operator_identity()

    def claim(db: Database) -> dict:
        # the check and the event in one transaction: of two operators, one gets the call
        call = _live_call(db, call_id)
        holder = _holder(db, call_id)
        if holder is not None:
            raise Conflict(f"the call is taken over already (by {holder.get('operator')})")
        _event(db, actor, call_id, "takeover", identity=identity, name=first_name(actor))
        return call

    call = await writer.run(claim)
    message = {
        "action": "takeover",
        "operator": actor.login,
        "name": first_name(actor),
        "identity": identity,
    }
    try:
        await _tell_agent(settings, call["room"], message)
    except HTTPException:
        # the agent was not told: the call is the persona's again
        await writer.run(
            lambda db: _event(db, actor, call_id, "handback", reason="takeover failed")
        )
        raise
    token = takeover_token(settings, room=call["room"], identity=identity)
    return _joined(settings, call, token)


@router.post("/{call_id}/handback")
async def hand_back(
    call_id: PathId,
    body: HandBack,
    request: Request,
    settings: SettingsDep,
    actor: Can("calls.supervise"),
) -> dict:
    """Hand a taken-over call back to the persona that was speaking, with a summary of what was
    said (or, without one, the conversation so far); the operator who had it leaves the room;
    a `handback` event. Any supervisor may hand back a call someone else took over. 409 when
    the call is not taken over."""
    writer = request.app.state.crm_writer

    def release(db: Database) -> tuple[dict, dict]:
        call = _live_call(db, call_id)
        holder = _holder(db, call_id)
        if holder is None:
            raise Conflict("the call is not taken over")
        _event(db, actor, call_id, "handback", summary=body.summary or None)
        return call, holder

    call, holder = await writer.run(release)
    message = {
        "action": "handback",
        "operator": holder.get("operator", ""),
        "name": holder.get("name") or "a colleague",
        "summary": body.summary or "",
    }
    await _tell_agent(settings, call["room"], message)

    async def remove(lk: api.LiveKitAPI) -> None:
        with contextlib.suppress(api.TwirpError):  # already gone
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=call["room"], identity=holder.get("identity", ""))
            )

    await _livekit(settings, remove)
    return {"call_id": call_id, "status": "handed_back"}


def _joined(settings: Settings, call: dict, token: str) -> dict:
    return {
        "call_id": call["id"],
        "room": call["room"],
        "livekit_url": settings.browser_livekit_url,
        "token": token,
    }
