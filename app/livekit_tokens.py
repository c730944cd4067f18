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
