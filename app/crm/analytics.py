"""Per-persona figures for the dashboard, computed from calls, events, turns, tickets and quotes.

Definitions (all over the calls *created* in the date range):

- calls_handled: calls in which the persona was visited (`personas_visited`).
- transfers_in / transfers_out: `transfer` events whose `data.to` / `data.from` is the persona.
- avg_handling_seconds: the time the persona spent in a call, from its `persona_entered` event
  to the next `persona_entered` (any persona), the `ended` event or the call's `ended_at`,
  summed per call and averaged over the calls where that time is known (a persona still
  talking in a live call is not counted yet). None when no call qualifies.
- tickets_created / quotes_created: tickets and quotes linked to those calls, counted for the
  persona that was active in the call when they were created (the last `persona_entered` at
  or before that moment; the call's department before any persona entered).
- turn_latency_p50 / p90: percentiles (linear interpolation) of `e2e_latency` in seconds of the
  persona's agent turns that have one; `latency_turns` says how many there were.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlite_utils import Database

from app.crm.calls import CHANNELS, DEPARTMENTS
from app.crm.clock import iso, parse
from app.crm.errors import InvalidInput

_CALLS_IN_RANGE = "SELECT id FROM calls WHERE created_at >= ? AND created_at < ?"
_ALL_TIME = ("0000", "9999")


def date_range(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """Validate a range given as dates (`2025-05-01`) or ISO date-times, as CRM timestamps.

    A date `since` starts at midnight UTC; a date `until` includes that whole day. A time
    without an offset is UTC. `until` must come after `since`.
    """
    start = _moment(since, "since", end_of_day=False) if since else None
    end = _moment(until, "until", end_of_day=True) if until else None
    if start is not None and end is not None and end <= start:
        raise InvalidInput("until must be after since")
    return (iso(start) if start else None, iso(end) if end else None)


def _moment(text: str, field: str, *, end_of_day: bool) -> datetime:
    value = text.strip()
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
            if end_of_day:
                moment += timedelta(days=1)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidInput(f"{field} is not a date (YYYY-MM-DD) or an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1970 <= moment.year <= 9998:
        raise InvalidInput(f"{field} is out of range (1970 to 9998)")
    return moment


def persona_analytics(db: Database, *, since: str | None = None, until: str | None = None) -> dict:
    """The figures of every persona over the calls created in [since, until)."""
    bounds = (since or _ALL_TIME[0], until or _ALL_TIME[1])
    calls = {
        row["id"]: row
        for row in db.query(
            "SELECT id, department, ended_at, personas_visited FROM calls"
            " WHERE created_at >= ? AND created_at < ?",
            bounds,
        )
    }
    timelines: dict[int, list[tuple[str, str]]] = defaultdict(list)  # call -> [(at, persona)]
    ends: dict[int, str] = {}
    stats = {key: _empty() for key in DEPARTMENTS}
    events = db.query(
        f"SELECT call_id, at, kind, persona, data FROM call_events WHERE call_id IN"
        f" ({_CALLS_IN_RANGE}) AND kind IN ('persona_entered', 'transfer', 'ended') ORDER BY id",
        bounds,
    )
    for event in events:
        if event["kind"] == "persona_entered" and event["persona"]:
            timelines[event["call_id"]].append((event["at"], event["persona"]))
        elif event["kind"] == "ended":
            ends.setdefault(event["call_id"], event["at"])
        else:
            data = json.loads(event["data"])
            for direction, key in (("transfers_out", "from"), ("transfers_in", "to")):
                if data.get(key) in stats:
                    stats[data[key]][direction] += 1

    handling: dict[str, list[float]] = defaultdict(list)
    for call_id, call in calls.items():
        for persona in set(json.loads(call["personas_visited"])):
            if persona in stats:
                stats[persona]["calls_handled"] += 1
        for persona, seconds in _time_per_persona(
            timelines[call_id], ends.get(call_id) or call["ended_at"]
        ).items():
            handling[persona].append(seconds)

    for table, field in (("tickets", "tickets_created"), ("quotes", "quotes_created")):
        rows = db.query(
            f"SELECT call_id, created_at FROM {table} WHERE call_id IN ({_CALLS_IN_RANGE})",
            bounds,
        )
        for row in rows:
            call = calls[row["call_id"]]
            persona = _active_persona(timelines[call["id"]], row["created_at"], call["department"])
            if persona in stats:
                stats[persona][field] += 1

    latencies: dict[str, list[float]] = defaultdict(list)
    turns = db.query(
        f"SELECT persona, e2e_latency FROM transcript_turns WHERE call_id IN ({_CALLS_IN_RANGE})"
        " AND role = 'agent' AND e2e_latency IS NOT NULL",
        bounds,
    )
    for turn in turns:
        latencies[turn["persona"]].append(turn["e2e_latency"])

    for persona, figures in stats.items():
        times = handling.get(persona, [])
        figures["avg_handling_seconds"] = round(sum(times) / len(times), 3) if times else None
        values = sorted(latencies.get(persona, []))
        figures["latency_turns"] = len(values)
        figures["turn_latency_p50"] = _percentile(values, 0.5)
        figures["turn_latency_p90"] = _percentile(values, 0.9)
    channels = dict.fromkeys(CHANNELS, 0)
    for row in db.query(
        "SELECT channel, COUNT(*) AS n FROM calls WHERE created_at >= ? AND created_at < ?"
        " GROUP BY channel",
        bounds,
    ):
        channels[row["channel"]] = row["n"]
    human, taken_over = (
        db.execute(
            f"SELECT COUNT(DISTINCT call_id) FROM call_events WHERE call_id IN"
            f" ({_CALLS_IN_RANGE}) AND kind = ?",
            [*bounds, kind],
        ).fetchone()[0]
        for kind in ("human_transfer", "takeover")
    )
    return {
        "since": since,
        "until": until,
        "calls": len(calls),
        "channels": channels,
        "transferred_to_human": human,
        "taken_over": taken_over,
        "personas": [{"persona": key, **figures} for key, figures in stats.items()],
    }


def calls_export(
    db: Database, *, since: str | None = None, until: str | None = None, limit: int = 100_000
) -> list[dict]:
    """Calls created in [since, until), oldest first, with their transfer count (for CSV)."""
    bounds = (since or _ALL_TIME[0], until or _ALL_TIME[1])
    rows = db.query(
        "SELECT c.id, c.created_at, c.agent_joined_at, c.ended_at, c.status, c.language,"
        " c.department, c.channel, c.direction, c.dialled_number, c.customer_id,"
        " c.identity_level, c.identity_method, c.caller_name, c.caller_phone, c.personas_visited,"
        " (SELECT COUNT(*) FROM call_events e WHERE e.call_id = c.id AND e.kind = 'transfer')"
        " AS transfers, c.duration_seconds, c.outcome FROM calls c"
        " WHERE c.created_at >= ? AND c.created_at < ? ORDER BY c.id LIMIT ?",
        [*bounds, limit],
    )
    return [{**row, "personas_visited": json.loads(row["personas_visited"])} for row in rows]


def _empty() -> dict:
    return {
        "calls_handled": 0,
        "transfers_in": 0,
        "transfers_out": 0,
        "tickets_created": 0,
        "quotes_created": 0,
    }


def _time_per_persona(timeline: list[tuple[str, str]], ended_at: str | None) -> dict[str, float]:
    """Seconds each persona held the call; the last stretch counts once the call has ended."""
    spent: dict[str, float] = defaultdict(float)
    for index, (started, persona) in enumerate(timeline):
        stop = timeline[index + 1][0] if index + 1 < len(timeline) else ended_at
        if stop is not None:
            spent[persona] += max(0.0, (parse(stop) - parse(started)).total_seconds())
    return dict(spent)


def _active_persona(timeline: list[tuple[str, str]], moment: str, department: str) -> str:
    active = department
    for started, persona in timeline:
        if started > moment:
            break
        active = persona
    return active


def _percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks of sorted `values`."""
    if not values:
        return None
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return round(values[low] + (values[high] - values[low]) * (position - low), 3)
