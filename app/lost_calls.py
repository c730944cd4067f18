"""Calls whose agent never came or is gone: never a caller left in silence.

Unanswered: LiveKit offers a call's job once. When the worker it picks refuses it (full since
it last reported, which with workers on several server nodes LiveKit never retries elsewhere)
or no worker looks available at that instant, the job is dropped and the caller waits for an
agent that never comes. Every UNANSWERED_CHECK_SECONDS the API looks at the web calls started in
the last minute that no agent has joined: when the caller's room has existed for REDISPATCH_AFTER
seconds without an agent in it, and a worker can take a call (app/worker_gate.py), it
dispatches the agent again (REDISPATCH_AFTER seconds apart, at most MAX_REDISPATCHES times, each
a `redispatched` event). The worker leaves a room another agent already answers
(agent/worker.py), so a late first agent and a second one never both speak.

A worker ends its calls itself, even when it drains. One that dies (`kill -9`, its machine lost)
cannot: its callers stay in a room no agent speaks in, and their calls stay "active" in the CRM
forever. Every LOST_CALLS_CHECK_SECONDS the API looks at the calls in progress for longer than
GRACE_SECONDS: a call whose room is gone, or whose room has had neither an agent nor an operator
who took the call over in it, on two checks in a row at least ABSENT_FOR seconds apart, is ended
`agent_lost` (with a `call_lost` event), and a room still open is deleted so the caller is hung
up instead of waiting. Two checks that far apart, so a worker that is closing the call right then
(its room is deleted as it ends) or an agent reconnecting is not taken for lost. With LiveKit out
of reach nothing is decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

import aiohttp
from livekit import api
from sqlite_utils import Database

from app.crm import calls as crm_calls
from app.crm.clock import iso, now
from app.crm.db import writing
from app.livekit_tokens import OPERATOR_ROLE, ROLE_ATTRIBUTE, job_metadata
from app.settings import Settings
from app.worker_gate import WorkerGate

log = logging.getLogger("ornina.api.lost_calls")

UNANSWERED_CHECK_SECONDS = 1.0
REDISPATCH_AFTER = 4.0
"""Seconds a caller's room may go without an agent (one joins in about a second)."""
MAX_REDISPATCHES = 3
GRACE_SECONDS = 20.0
"""An agent joined this long ago at least: a call just starting is still being set up."""
ABSENT_FOR = 10.0
"""Seconds, at least, between the first check that finds a call without its agent and the one
that ends it (LiveKit gives a reconnecting participant about this long)."""
TIMEOUT = aiohttp.ClientTimeout(total=5)


def calls_in_progress(db: Database, *, joined_before: str) -> list[dict]:
    return list(
        db.query(
            "SELECT id, room FROM calls WHERE status = 'active' AND agent_joined_at < ?",
            [joined_before],
        )
    )


def unanswered_calls(db: Database, *, since: str, before: str) -> list[dict]:
    """Web calls started between `since` and `before` that no agent has joined yet, with how
    many times they were dispatched again."""
    return list(
        db.query(
            "SELECT c.id, c.room, c.department, c.language, c.caller_name, c.caller_phone,"
            " (SELECT count(*) FROM call_events e WHERE e.call_id = c.id"
            "  AND e.kind = 'redispatched') AS redispatches"
            " FROM calls c WHERE c.status = 'created' AND c.channel = 'web'"
            " AND c.created_at >= ? AND c.created_at < ?",
            [since, before],
        )
    )


def livekit_room(call: dict) -> str:
    """The LiveKit room of a call row (a second row for one room carries a `#suffix`:
    app/crm/call_opening.py)."""
    return call["room"].split("#", 1)[0]


def end_lost_call(db: Database, *, call_id: int, reason: str) -> None:
    with writing(db):
        if crm_calls.get_call(db, call_id=call_id)["status"] == "ended":
            return  # its worker ended it after all
        crm_calls.add_event(db, call_id=call_id, kind="call_lost", reason=reason)
        crm_calls.end_call(db, call_id=call_id, outcome="agent_lost")


class LostCalls:
    def __init__(self, settings: Settings, writer, pool, gate: WorkerGate) -> None:
        self._settings = settings
        self._writer = writer
        self._pool = pool
        self._gate = gate
        self._redispatched_at: dict[int, float] = {}
        self._suspects: dict[int, float] = {}
        """Calls found without an agent on the last check, and since when (monotonic)."""

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_lost = loop.time() + self._settings.lost_calls_check_seconds
        while True:
            await asyncio.sleep(UNANSWERED_CHECK_SECONDS)
            try:
                await self.redispatch_unanswered()
                if loop.time() >= next_lost:
                    next_lost = loop.time() + self._settings.lost_calls_check_seconds
                    await self.check()
            except Exception:  # noqa: BLE001 - the next check tries again
                log.exception("checking for unanswered or lost calls failed")

    async def redispatch_unanswered(self) -> list[int]:
        """One look at the calls no agent has joined; returns those dispatched again."""
        moment = now()
        since, before = iso(moment - timedelta(seconds=60)), iso(moment - timedelta(seconds=2))
        with self._pool.connection() as db:
            calls = await asyncio.to_thread(unanswered_calls, db, since=since, before=before)
        clock = time.monotonic()
        self._redispatched_at = {
            k: at for k, at in self._redispatched_at.items() if clock - at < 120
        }
        calls = [
            c
            for c in calls
            if c["redispatches"] < MAX_REDISPATCHES
            and clock - self._redispatched_at.get(c["id"], -REDISPATCH_AFTER) >= REDISPATCH_AFTER
        ]
        if not calls or await self._gate.problem() is not None:
            return []  # nothing waits, or no worker could take it now
        again = []
        try:
            async with self._settings.livekit_api(timeout=TIMEOUT) as lk:
                names = [c["room"] for c in calls]
                rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=names))
                waiting = {
                    room.name
                    for room in rooms.rooms
                    if moment.timestamp() - room.creation_time >= REDISPATCH_AFTER
                }
                for call in calls:
                    if call["room"] not in waiting or await _has_agent(lk, call["room"]):
                        continue  # the caller has not joined yet, or an agent has
                    await lk.agent_dispatch.create_dispatch(
                        api.CreateAgentDispatchRequest(
                            agent_name=self._settings.agent_name,
                            room=call["room"],
                            metadata=job_metadata(
                                call_id=call["id"],
                                department=call["department"],
                                language=call["language"],
                                name=call["caller_name"],
                                phone=call["caller_phone"],
                            ),
                        )
                    )
                    self._redispatched_at[call["id"]] = clock
                    again.append(call)
        except (aiohttp.ClientError, OSError, TimeoutError, api.TwirpError) as error:
            log.warning(
                "LiveKit not answering: unanswered calls not checked", extra={"error": str(error)}
            )
        for call in again:
            await self._writer.run(
                crm_calls.add_event,
                call_id=call["id"],
                kind="redispatched",
                reason=f"no agent in the room {REDISPATCH_AFTER:.0f} s after the caller joined",
            )
            log.warning("call unanswered: agent dispatched again", extra={"call_id": call["id"]})
        return [call["id"] for call in again]

    async def check(self) -> list[int]:
        """One check; returns the calls ended as lost."""
        joined_before = iso(now() - timedelta(seconds=GRACE_SECONDS))
        with self._pool.connection() as db:
            calls = await asyncio.to_thread(calls_in_progress, db, joined_before=joined_before)
        if not calls:
            self._suspects.clear()
            return []
        try:
            async with self._settings.livekit_api(timeout=TIMEOUT) as lk:
                found = await self._find_lost(lk, calls)
                clock = time.monotonic()
                lost = [
                    c
                    for c in calls
                    if c["id"] in found and clock - self._suspects.get(c["id"], clock) >= ABSENT_FOR
                ]
                for call in lost:
                    if found[call["id"]] == "no agent in the room":
                        with contextlib.suppress(api.TwirpError):
                            await lk.room.delete_room(
                                api.DeleteRoomRequest(room=livekit_room(call))
                            )
        except (aiohttp.ClientError, OSError, TimeoutError, api.TwirpError) as error:
            log.warning(
                "LiveKit not answering: lost calls not checked", extra={"error": str(error)}
            )
            return []
        self._suspects = {call_id: self._suspects.get(call_id, clock) for call_id in found}
        for call in lost:
            reason = found[call["id"]]
            await self._writer.run(end_lost_call, call_id=call["id"], reason=reason)
            log.warning(
                "call lost: its agent is gone", extra={"call_id": call["id"], "why": reason}
            )
            self._suspects.pop(call["id"], None)
        return [call["id"] for call in lost]

    async def _find_lost(self, lk: api.LiveKitAPI, calls: list[dict]) -> dict[int, str]:
        names = sorted({livekit_room(c) for c in calls})
        rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=names))
        open_rooms = {room.name for room in rooms.rooms}
        found: dict[int, str] = {}
        for call in calls:
            if livekit_room(call) not in open_rooms:
                found[call["id"]] = "the room closed without the agent ending the call"
                continue
            if not await _has_agent(lk, livekit_room(call), or_operator=True):
                found[call["id"]] = "no agent in the room"
        return found


async def _has_agent(lk: api.LiveKitAPI, room: str, *, or_operator: bool = False) -> bool:
    """An agent is in the room (or, with `or_operator`, an operator who took the call over
    and speaks to the caller while its agent is gone)."""
    people = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(
        p.kind == api.ParticipantInfo.Kind.AGENT
        or (or_operator and p.attributes.get(ROLE_ATTRIBUTE) == OPERATOR_ROLE)
        for p in people.participants
    )
