"""LiveKit's standard token endpoint (`TokenSource.endpoint` in the client SDKs), so any app
built on those SDKs can call in: same call row, fresh room and agent dispatch as `/api/calls`.

The server, not the client, picks the room and the agent: `room_name`, room settings, another
agent's name or agent metadata are refused with 403.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.deps import SettingsDep
from app.routers.call_start import admit_call, start_call
from app.schemas import CallCreate, error_responses

router = APIRouter(
    prefix="/api", tags=["calls"], responses=error_responses(400, 401, 403, 422, 429, 503)
)

# participant_attributes keys that carry the call's own fields
CALL_ATTRIBUTES = ("language", "department", "name", "phone", "customer_id")
RESERVED_ATTRIBUTE_PREFIXES = ("sip.", "lk.", "ornina.")
"""Attributes that LiveKit's SIP service, LiveKit itself or our agent set: a web caller who
sent `sip.phoneNumber` would otherwise look like a phone call from that number."""


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_name: str | None = None
    participant_identity: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$"
    )
    participant_name: str | None = Field(default=None, min_length=1, max_length=120)
    participant_metadata: str | None = Field(default=None, max_length=2048)
    participant_attributes: dict[str, Annotated[str, Field(max_length=256)]] | None = Field(
        default=None, max_length=16
    )
    room_config: dict[str, Any] | None = None


class TokenResponse(BaseModel):
    server_url: str
    participant_token: str
    room_name: str
    participant_name: str
    call_id: int


def _refuse(message: str) -> HTTPException:
    return HTTPException(403, message)


def _check_room_config(room_config: dict[str, Any] | None, agent_name: str) -> None:
    """Only `agents` naming our agent (or none) is accepted; it is dispatched once."""
    if not room_config:
        return
    other = sorted(key for key, value in room_config.items() if key != "agents" and value)
    if other:
        raise _refuse(f"room_config fields are set by the server: {', '.join(other)}")
    agents = room_config.get("agents") or []
    if not isinstance(agents, list) or len(agents) > 1:
        raise _refuse("room_config.agents: at most one dispatch, of this call center's agent")
    for dispatch in agents:
        if not isinstance(dispatch, dict):
            raise HTTPException(422, "room_config.agents: each entry must be an object")
        name = dispatch.get("agent_name") or dispatch.get("agentName") or ""
        if name not in ("", agent_name):
            raise _refuse(f"room_config.agents: agent {name!r} is not available here")
        extra = sorted(k for k, v in dispatch.items() if k not in ("agent_name", "agentName") and v)
        if extra:
            raise _refuse(f"room_config.agents: fields set by the server: {', '.join(extra)}")


@router.post("/token", status_code=201, response_model=TokenResponse)
async def create_token(
    body: TokenRequest,
    request: Request,
    settings: SettingsDep,
    x_call_key: Annotated[str | None, Header()] = None,
    x_server_key: Annotated[str | None, Header()] = None,
) -> TokenResponse:
    """LiveKit standard token endpoint: `{server_url, participant_token}` for a new call.

    Call fields come from `participant_attributes` (`language`, `department`, `name`, `phone`),
    validated like `POST /api/calls`; `customer_id` (a verified call) only with the trusted
    backend's `X-Server-Key`. With `TOKEN_ENDPOINT_KEY` set, the `X-Call-Key` header must
    carry it.
    """
    expected = settings.token_endpoint_key
    if expected is not None:
        supplied = (x_call_key or "").encode()
        if not secrets.compare_digest(supplied, expected.get_secret_value().encode()):
            raise HTTPException(401, "this endpoint needs the X-Call-Key header")
    if body.room_name:
        raise _refuse("room_name is chosen by the server: leave it out")
    _check_room_config(body.room_config, settings.agent_name)
    attributes = body.participant_attributes or {}
    reserved = sorted(k for k in attributes if k.lower().startswith(RESERVED_ATTRIBUTE_PREFIXES))
    if reserved:
        raise _refuse(f"participant_attributes: reserved names: {', '.join(reserved)}")
    call_fields = {key: attributes[key] for key in CALL_ATTRIBUTES if attributes.get(key)}
    call_fields.setdefault("name", body.participant_name)
    try:
        call = CallCreate.model_validate({k: v for k, v in call_fields.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise HTTPException(422, f"participant_attributes.{field}: {first['msg']}") from None
    admission = await admit_call(request, settings, call, x_server_key)
    started = await request.app.state.crm_writer.run(
        start_call,
        settings,
        call,
        identity=body.participant_identity,
        participant_metadata=body.participant_metadata,
        attributes=attributes or None,
    )
    admission.room = started.room
    return TokenResponse(
        server_url=started.livekit_url,
        participant_token=started.token,
        room_name=started.room,
        participant_name=call.name or "Caller",
        call_id=started.call_id,
    )
