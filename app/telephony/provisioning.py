"""The SIP trunks and dispatch rule the settings describe, applied to LiveKit idempotently.

Each object carries a fixed name (`ornina-inbound`, `ornina-outbound`). Applying compares what
LiveKit holds under that name with what the settings want: equal is kept, different (or a
duplicate) is deleted and created anew, so a restart creates nothing twice and a changed
setting takes effect. The dispatch rule puts each call in a fresh room (`phone_<number>_<id>`)
and dispatches the agent explicitly, for the inbound trunk only (a catch-all rule would answer
any INVITE).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from livekit import api

from app.settings import Settings

INBOUND = "ornina-inbound"
OUTBOUND = "ornina-outbound"
ROOM_PREFIX = "phone"
PHONE_METADATA = json.dumps({"channel": "phone"})
"""The job metadata of an inbound phone call; the worker reads the line from the caller."""


@dataclass(frozen=True)
class Applied:
    inbound_trunk_id: str
    dispatch_rule_id: str
    outbound_trunk_id: str | None
    changed: tuple[str, ...]
    """What was created or replaced (empty when LiveKit already matched the settings)."""


def desired_inbound(settings: Settings) -> api.SIPInboundTrunkInfo:
    password = settings.sip_auth_password
    return api.SIPInboundTrunkInfo(
        name=INBOUND,
        numbers=[line.number for line in settings.phone_lines],
        allowed_addresses=settings.allowed_addresses,
        auth_username=settings.sip_auth_username,
        auth_password=password.get_secret_value() if password else "",
    )


def desired_rule(settings: Settings, trunk_id: str) -> api.SIPDispatchRuleInfo:
    return api.SIPDispatchRuleInfo(
        name=INBOUND,
        trunk_ids=[trunk_id],
        rule=api.SIPDispatchRule(
            dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix=ROOM_PREFIX)
        ),
        room_config=api.RoomConfiguration(
            agents=[api.RoomAgentDispatch(agent_name=settings.agent_name, metadata=PHONE_METADATA)]
        ),
    )


def desired_outbound(settings: Settings) -> api.SIPOutboundTrunkInfo | None:
    if not settings.sip_outbound_address:
        return None
    password = settings.sip_outbound_password
    return api.SIPOutboundTrunkInfo(
        name=OUTBOUND,
        address=settings.sip_outbound_address,
        numbers=[settings.sip_outbound_number],
        auth_username=settings.sip_outbound_username,
        auth_password=password.get_secret_value() if password else "",
    )


def _same(current: object, wanted: object, fields: tuple[str, ...]) -> bool:
    return all(getattr(current, f) == getattr(wanted, f) for f in fields)


INBOUND_FIELDS = ("numbers", "allowed_addresses", "auth_username", "auth_password")
RULE_FIELDS = ("trunk_ids", "rule", "room_config")
OUTBOUND_FIELDS = ("address", "numbers", "auth_username", "auth_password")


async def apply(lk: api.LiveKitAPI, settings: Settings) -> Applied:
    changed: list[str] = []

    trunks = [t for t in (await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items]
    wanted = desired_inbound(settings)
    trunk_id = await _keep_one(
        lk,
        [t for t in trunks if t.name == INBOUND],
        lambda t: _same(t, wanted, INBOUND_FIELDS),
        id_of=lambda t: t.sip_trunk_id,
        delete=lambda i: lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=i)),
    )
    if trunk_id is None:
        created = await lk.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(trunk=wanted))
        trunk_id = created.sip_trunk_id
        changed.append("inbound trunk")

    rules = (await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())).items
    wanted_rule = desired_rule(settings, trunk_id)
    rule_id = await _keep_one(
        lk,
        [r for r in rules if r.name == INBOUND],
        lambda r: _same(r, wanted_rule, RULE_FIELDS),
        id_of=lambda r: r.sip_dispatch_rule_id,
        delete=lambda i: lk.sip.delete_dispatch_rule(
            api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=i)
        ),
    )
    if rule_id is None:
        created_rule = await lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(dispatch_rule=wanted_rule)
        )
        rule_id = created_rule.sip_dispatch_rule_id
        changed.append("dispatch rule")

    outbound = (await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())).items
    wanted_out = desired_outbound(settings)
    out_id = await _keep_one(
        lk,
        [t for t in outbound if t.name == OUTBOUND],
        lambda t: wanted_out is not None and _same(t, wanted_out, OUTBOUND_FIELDS),
        id_of=lambda t: t.sip_trunk_id,
        delete=lambda i: lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=i)),
    )
    if out_id is None and wanted_out is not None:
        created_out = await lk.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(trunk=wanted_out)
        )
        out_id = created_out.sip_trunk_id
        changed.append("outbound trunk")
    return Applied(trunk_id, rule_id, out_id, tuple(changed))


async def _keep_one(lk, found, matches, *, id_of, delete) -> str | None:  # noqa: ANN001
    """The id of the one object to keep (the first that matches); every other is deleted."""
    keep = next((item for item in found if matches(item)), None)
    for item in found:
        if item is not keep:
            await delete(id_of(item))
    return id_of(keep) if keep is not None else None


async def inbound_trunk_id(lk: api.LiveKitAPI) -> str | None:
    trunks = (await lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items
    return next((t.sip_trunk_id for t in trunks if t.name == INBOUND), None)


async def dispatch_rule_id(lk: api.LiveKitAPI) -> str | None:
    rules = (await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())).items
    return next((r.sip_dispatch_rule_id for r in rules if r.name == INBOUND), None)


async def outbound_trunk_id(lk: api.LiveKitAPI) -> str | None:
    trunks = (await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())).items
    return next((t.sip_trunk_id for t in trunks if t.name == OUTBOUND), None)


async def find(lk: api.LiveKitAPI) -> dict[str, str | None]:
    """The ids LiveKit holds under our names (None: not provisioned)."""
    return {
        "inbound_trunk_id": await inbound_trunk_id(lk),
        "dispatch_rule_id": await dispatch_rule_id(lk),
        "outbound_trunk_id": await outbound_trunk_id(lk),
    }


def describe(settings: Settings) -> dict:
    """The telephony setup the settings ask for, without secrets."""
    return {
        "sip_port": settings.sip_port,
        "lines": [
            {
                "number": line.number,
                "department": line.department.value,
                "language": line.language or f"default ({settings.default_language})",
            }
            for line in settings.phone_lines
        ],
        "allowed_addresses": settings.allowed_addresses,
        "digest_auth": bool(settings.sip_auth_username),
        "trust_caller_id": settings.sip_trust_caller_id,
        "transfer_to": settings.sip_transfer_to or None,
        "outbound": (
            {"address": settings.sip_outbound_address, "number": settings.sip_outbound_number}
            if settings.sip_outbound_address
            else None
        ),
        "agent_name": settings.agent_name,
    }
