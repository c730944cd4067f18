from __future__ import annotations

import json

from sqlite_utils import Database

from app.crm.clock import now_iso, parse
from app.crm.db import writing
from app.crm.errors import InvalidInput, NotFound
from app.crm.fields import NAME_MAX, clean_email, clean_language, clean_text
from app.crm.phones import normalise_phone
from app.crm.queries import insert_row, newest_first

DEPARTMENTS = ("reception", "sales", "complaints")
STATUSES = ("created", "active", "ended")
TURN_ROLES = ("caller", "agent", "operator")
"""`operator`: a person who took the call over from the persona (`operator_login` says who)."""
METHODS = ("caller_id", "trusted_token", "in_call_code", "callback")
"""How a call was verified: the caller ID of a phone call on a trusted trunk, a call token
requested by a trusted backend with the server key, a one-time code said in the call, our
callback to the number on the customer's record."""
CHANNELS = ("web", "phone")
TURN_METRICS = ("end_of_turn_delay", "transcription_delay", "llm_ttft", "tts_ttfb", "e2e_latency")
MAX_TURN_TEXT = 20_000


def create_call(
    db: Database,
    *,
    room: str,
    language: str,
    department: str,
    customer_id: int | None = None,
    caller_name: str | None = None,
    caller_phone: str | None = None,
    identity_method: str | None = None,
    channel: str = "web",
    direction: str = "inbound",
    dialled_number: str | None = None,
    callback_ticket_id: int | None = None,
    callback_follow_up_id: int | None = None,
) -> dict:
    """A new call. With `customer_id` it is verified (`identity_method` says how); otherwise
    the name and number the caller gave make it `claimed`, and none makes it `anonymous`."""
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}")
    if direction not in ("inbound", "outbound"):
        raise InvalidInput("direction must be inbound or outbound")
    if department not in DEPARTMENTS:
        raise InvalidInput(f"department must be one of {', '.join(DEPARTMENTS)}")
    if (customer_id is None) != (identity_method is None):
        raise InvalidInput("a verified call needs both its customer and how it was verified")
    if identity_method is not None and identity_method not in METHODS:
        raise InvalidInput(f"identity_method must be one of {', '.join(METHODS)}")
    stamp = now_iso()
    row = {
        "room": clean_text(room, "room", max_length=128),
        "language": clean_language(language),
        "department": department,
        "customer_id": customer_id,
        "caller_name": clean_text(caller_name, "name", max_length=NAME_MAX, required=False),
        "caller_phone": caller_phone,
        "created_at": stamp,
        "identity_level": "verified"
        if customer_id is not None
        else ("claimed" if caller_name or caller_phone else "anonymous"),
        "identity_method": identity_method,
        "identity_at": stamp if customer_id is not None else None,
        "channel": channel,
        "direction": direction,
        "dialled_number": dialled_number,
        "callback_ticket_id": callback_ticket_id,
        "callback_follow_up_id": callback_follow_up_id,
    }
    with writing(db):
        call_id = insert_row(db, "calls", row)
    return get_call(db, call_id=call_id)


def get_call(db: Database, *, call_id: int) -> dict:
    rows = list(db.query("SELECT * FROM calls WHERE id = ?", [call_id]))
    if not rows:
        raise NotFound(f"call {call_id} not found")
    call = rows[0]
    call["personas_visited"] = json.loads(call["personas_visited"])
    return call


def get_call_detail(db: Database, *, call_id: int) -> dict:
    """A call with its transcript and events, in the order they happened."""
    call = get_call(db, call_id=call_id)
    call["transcript"] = list_turns(db, call_id=call_id)
    call["events"] = list_events(db, call_id=call_id)
    return call


def list_calls(
    db: Database,
    *,
    status: str | None = None,
    department: str | None = None,
    language: str | None = None,
    customer_id: int | None = None,
    identity_level: str | None = None,
    channel: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict]:
    calls = newest_first(
        db,
        "calls",
        equal={
            "status": status,
            "department": department,
            "language": language,
            "customer_id": customer_id,
            "identity_level": identity_level,
            "channel": channel,
        },
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    for call in calls:
        call["personas_visited"] = json.loads(call["personas_visited"])
    return calls


def add_event(
    db: Database, *, call_id: int, kind: str, persona: str | None = None, **data: object
) -> dict:
    row = {
        "call_id": call_id,
        "at": now_iso(),
        "kind": clean_text(kind, "kind", max_length=64),
        "persona": persona,
        "data": json.dumps(data, ensure_ascii=False, default=str),
    }
    with writing(db):
        row["id"] = insert_row(db, "call_events", row)
        if kind == "persona_entered" and persona:
            _add_persona_visited(db, call_id, persona)
    row["data"] = data
    return row


def list_events(db: Database, *, call_id: int) -> list[dict]:
    events = list(db.query("SELECT * FROM call_events WHERE call_id = ? ORDER BY id", [call_id]))
    for event in events:
        event["data"] = json.loads(event["data"])
    return events


def add_turn(
    db: Database,
    *,
    call_id: int,
    role: str,
    text: str,
    persona: str | None = None,
    language: str | None = None,
    interrupted: bool = False,
    operator_login: str | None = None,
    **metrics: float | None,
) -> dict:
    if role not in TURN_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(TURN_ROLES)}")
    if (role == "operator") != (operator_login is not None):
        raise InvalidInput("an operator's turn needs the operator, and only it")
    unknown = set(metrics) - set(TURN_METRICS)
    if unknown:
        raise InvalidInput(f"unknown turn metrics: {', '.join(sorted(unknown))}")
    row = {
        "call_id": call_id,
        "at": now_iso(),
        "role": role,
        "persona": persona,
        "language": language,
        "text": text[:MAX_TURN_TEXT],
        "interrupted": int(bool(interrupted)),
        "operator_login": operator_login,
        **metrics,
    }
    with writing(db):
        row["id"] = insert_row(db, "transcript_turns", row)
    return row


def list_turns(db: Database, *, call_id: int) -> list[dict]:
    turns = list(
        db.query("SELECT * FROM transcript_turns WHERE call_id = ? ORDER BY id", [call_id])
    )
    for turn in turns:
        turn["interrupted"] = bool(turn["interrupted"])
    return turns


def mark_agent_joined(db: Database, *, call_id: int, worker: str | None = None) -> dict:
    """The agent is in the call; `worker` names the worker that handles it (WORKER_NAME)."""
    with writing(db):
        get_call(db, call_id=call_id)
        db.execute(
            "UPDATE calls SET status = 'active', agent_joined_at = COALESCE(agent_joined_at, ?),"
            " worker = COALESCE(?, worker) WHERE id = ?",
            [now_iso(), worker, call_id],
        )
    return get_call(db, call_id=call_id)


def set_claimed_details(
    db: Database, *, call_id: int, region: str = "SA", **details: str | None
) -> dict:
    """What an unverified caller said about themselves, kept on the call (never on a customer
    record) for an operator to link: `name`, `phone`, `email`, `interest`."""
    cleaners = {
        "name": ("caller_name", lambda v: clean_text(v, "name", max_length=NAME_MAX)),
        "phone": ("caller_phone", lambda v: normalise_phone(v, region)),
        "email": ("caller_email", clean_email),
        "interest": ("caller_interest", lambda v: clean_text(v, "interest", max_length=200)),
    }
    unknown = set(details) - set(cleaners)
    if unknown:
        raise InvalidInput(f"unknown caller details: {', '.join(sorted(unknown))}")
    given = {
        cleaners[key][0]: cleaners[key][1](value)
        for key, value in details.items()
        if value is not None
    }
    with writing(db):
        call = get_call(db, call_id=call_id)
        if given:
            assignments = ", ".join(f"{column} = ?" for column in given)
            level = "claimed" if call["identity_level"] == "anonymous" else call["identity_level"]
            db.execute(
                f"UPDATE calls SET {assignments}, identity_level = ? WHERE id = ?",
                [*given.values(), level, call_id],
            )
    return get_call(db, call_id=call_id)


def set_call_language(db: Database, *, call_id: int, language: str) -> None:
    with writing(db):
        db.execute(
            "UPDATE calls SET language = ? WHERE id = ?", [clean_language(language), call_id]
        )


def end_call(db: Database, *, call_id: int, outcome: str) -> dict:
    """Close a call once: its duration, outcome and the caller's language for next time."""
    outcome = clean_text(outcome, "outcome", max_length=200)
    with writing(db):
        call = get_call(db, call_id=call_id)
        if call["status"] == "ended":
            return call
        ended_at = now_iso()
        started = call["agent_joined_at"] or call["created_at"]
        duration = (parse(ended_at) - parse(started)).total_seconds()
        db.execute(
            "UPDATE calls SET status = 'ended', outcome = ?, ended_at = ?, duration_seconds = ?"
            " WHERE id = ?",
            [outcome, ended_at, round(duration, 3), call_id],
        )
        if call["customer_id"] is not None:
            db.execute(
                "UPDATE customers SET language = ?, updated_at = ? WHERE id = ?",
                [call["language"], ended_at, call["customer_id"]],
            )
    return get_call(db, call_id=call_id)


def _add_persona_visited(db: Database, call_id: int, persona: str) -> None:
    visited = get_call(db, call_id=call_id)["personas_visited"]
    if not visited or visited[-1] != persona:
        visited.append(persona)
        db.execute(
            "UPDATE calls SET personas_visited = ? WHERE id = ?", [json.dumps(visited), call_id]
        )


def live_calls(db: Database, *, limit: int = 100) -> list[dict]:
    """The calls in progress now, for the live view: who is speaking for us (the persona last
    entered, or the operator who took over), the last caption, how many transfers so far."""
    calls = list(
        db.query(
            "SELECT id, room, status, created_at, agent_joined_at, language, department, channel,"
            " direction, identity_level, identity_method, caller_name, caller_phone"
            " FROM calls WHERE status = 'active' ORDER BY id DESC LIMIT ?",
            [limit],
        )
    )
    for call in calls:
        events = list(
            db.query(
                "SELECT kind, persona, data FROM call_events WHERE call_id = ? AND kind IN"
                " ('persona_entered', 'transfer', 'takeover', 'handback') ORDER BY id",
                [call["id"]],
            )
        )
        entered = [e["persona"] for e in events if e["kind"] == "persona_entered"]
        call["persona"] = entered[-1] if entered else call["department"]
        call["transfers"] = sum(e["kind"] == "transfer" for e in events)
        supervision = [e for e in events if e["kind"] in ("takeover", "handback")]
        taken = supervision[-1] if supervision and supervision[-1]["kind"] == "takeover" else None
        call["taken_over_by"] = json.loads(taken["data"]).get("operator") if taken else None
        last = list(
            db.query(
                "SELECT role, persona, operator_login, text, at FROM transcript_turns"
                " WHERE call_id = ? ORDER BY id DESC LIMIT 1",
                [call["id"]],
            )
        )
        call["last_caption"] = last[0] if last else None
    return calls
