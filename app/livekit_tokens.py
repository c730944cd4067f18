"""Caller tokens whose room configuration dispatches our agent into a fresh room.

One mechanism per call: the token's `RoomConfiguration.agents` (applied when the caller's join
creates the room). A fresh room name per call guarantees the room is created by that join, so
the dispatch always happens; no separate `create_dispatch` (that would add a second agent).
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from livekit import api

from app.settings import Settings

TOKEN_TTL = timedelta(minutes=15)


def new_room_name() -> str:
    return f"call-{secrets.token_hex(8)}"


def job_metadata(
    *, call_id: int, department: str, language: str, name: str | None, phone: str | None
) -> str:
    return json.dumps(
        {
            "call_id": call_id,
            "department": department,
            "language": language,
            "name": name,
            "phone": phone,
        },
        ensure_ascii=False,
    )


def caller_token(
    settings: Settings,
    *,
    room: str,
    metadata: str,
    display_name: str | None,
    identity: str | None = None,
    participant_metadata: str | None = None,
    attributes: dict[str, str] | None = None,
) -> str:
    token = (
        api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
        .with_identity(identity or f"caller-{secrets.token_hex(6)}")
        .with_name(display_name or "Caller")
        .with_ttl(TOKEN_TTL)
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
            )
        )
        .with_room_config(
            api.RoomConfiguration(
                agents=[api.RoomAgentDispatch(agent_name=settings.agent_name, metadata=metadata)]
            )
        )
    )
    if participant_metadata:
        token = token.with_metadata(participant_metadata)
    if attributes:
        token = token.with_attributes(attributes)
    return token.to_jwt()


ROLE_ATTRIBUTE = "ornina.role"
"""The participant attribute that tells an operator from a caller (the agent and the API read
it: agent/supervision.py, app/lost_calls.py)."""
OPERATOR_ROLE = "operator"
"""Its value for an operator who took a call over and speaks to the caller."""

OPERATOR_TOKEN_TTL = timedelta(minutes=5)
"""Short: LiveKit refreshes the token of a participant who is connected, and one who left (or
was removed at hand-back) cannot come back with it later."""


def _operator_token(
    settings: Settings, *, identity: str, name: str, role: str, grants: api.VideoGrants
) -> str:
    return (
        api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())
        .with_identity(identity)
        .with_name(name)
        .with_ttl(OPERATOR_TOKEN_TTL)
        .with_attributes({ROLE_ATTRIBUTE: role})
        .with_grants(grants)
        .to_jwt()
    )


def listener_token(settings: Settings, *, room: str, name: str) -> str:
    """An operator listening in: hidden (the caller, the agent and the caller's page never see
    them), subscribe-only, for this one room."""
    return _operator_token(
        settings,
        identity=f"listener-{secrets.token_hex(6)}",
        name=name,
        role="listener",
        grants=api.VideoGrants(
            room_join=True,
            room=room,
            can_subscribe=True,
            can_publish=False,
            can_publish_data=False,
            hidden=True,
        ),
    )


def takeover_token(settings: Settings, *, room: str, identity: str) -> str:
    """An operator who took the call over: speaks to the caller with a microphone (nothing else),
    in this one room. The caller's page sees this participant, so it carries no login or name:
    a random identity and "Ornina"."""
    return _operator_token(
        settings,
        identity=identity,
        name="Ornina",
        role=OPERATOR_ROLE,
        grants=api.VideoGrants(
            room_join=True,
            room=room,
            can_subscribe=True,
            can_publish=True,
            can_publish_sources=["microphone"],
            can_publish_data=False,
        ),
    )


def new_operator_identity() -> str:
    return f"operator-{secrets.token_hex(6)}"
