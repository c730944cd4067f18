"""The CRM operations an agent worker may run, in-process or through the API.

A worker on another machine has no CRM file: it sends each operation's name and keyword
arguments to the API's internal route (app/routers/internal.py), which runs the same store
function on its CRM file. The list below is all a worker may do there, exactly what a call uses;
no operator route, no listing or search. The operations take any call or customer id (a worker
opens calls for callers it has never seen), so the service key is as trusted as a worker is:
like LiveKit's API secret, which a worker holds as well. Arguments are validated against
each function's own signature (its type hints), answers are encoded and decoded with its
return type, and `CrmError`s travel back by name (agent/crm.py raises them again).

Every write is applied once: the worker gives each operation an id, and the API records the
answer of each write under it in the same transaction, so a retry after a lost answer (the API
restarted before answering) gets that answer again instead of a second turn or ticket.
"""

from __future__ import annotations

import inspect
import json
import logging
import sqlite3
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic_core import to_jsonable_python
from sqlite_utils import Database

from app.crm import Conflict, CrmError, InvalidInput, NotFound, call_opening, caller_records
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import identity as crm_identity
from app.crm import quotes as crm_quotes
from app.crm import services as crm_services
from app.crm import tickets as crm_tickets
from app.crm.clock import iso, now, now_iso

log = logging.getLogger("ornina.crm.worker_operations")

SERVICE_KEY_HEADER = "X-Service-Key"
"""The header a worker sends its service key in (app/routers/internal.py, agent/crm.py)."""
REMEMBER_ANSWERS = timedelta(hours=1)
"""How long a write's answer is kept for a retry: a worker retries for minutes, not hours."""


class CrmUnavailable(CrmError):
    """The CRM did not answer in time (the API is down or restarting)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "The records system is not answering right now. Apologise briefly, and offer "
            "to have someone call the caller back."
        )


class InvalidArguments(CrmError):
    """An operation's arguments do not match its function (a bug in the worker, or not ours)."""


class OperationFailed(CrmError):
    """The operation raised something other than a `CrmError` (a bug): its writes are undone,
    the rest of the batch goes on, and the API's log has the traceback."""


ERRORS: dict[str, type[CrmError]] = {
    cls.__name__: cls
    for cls in (NotFound, InvalidInput, Conflict, InvalidArguments, OperationFailed, CrmUnavailable)
}


@dataclass(frozen=True)
class Operation:
    name: str
    fn: Callable[..., Any]
    writes: bool
    arguments: type[BaseModel]
    extra: TypeAdapter | None
    """The type of `**kwargs` values, for functions that take them."""
    answer: TypeAdapter

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments for `fn`, or `InvalidArguments` saying which one is wrong."""
        if "db" in arguments:
            raise InvalidArguments(f"{self.name}: db: the database is the API's, not an argument")
        try:
            model = self.arguments.model_validate(arguments)
            values = {name: getattr(model, name) for name in type(model).model_fields}
            extra = model.model_extra or {}
            if extra and self.extra is not None:
                extra = self.extra.validate_python(extra)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "arguments"
            raise InvalidArguments(f"{self.name}: {where}: {first['msg']}") from None
        return {**values, **extra}

    def arguments_json(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments as JSON for the API, checked here first (`InvalidArguments`)."""
        return to_jsonable_python(self.validate(arguments))

    def encode_answer(self, result: Any) -> Any:
        return self.answer.dump_python(result, mode="json")

    def decode_answer(self, data: Any) -> Any:
        return self.answer.validate_python(data)


def _operation(fn: Callable[..., Any], *, writes: bool) -> Operation:
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    extra = None
    for index, parameter in enumerate(inspect.signature(fn).parameters.values()):
        if index == 0:
            continue  # the database
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = TypeAdapter(dict[str, hints.get(parameter.name, Any)])
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
    config = ConfigDict(extra="allow" if extra else "forbid")
    arguments = create_model(f"{name}.arguments", __config__=config, **fields)
    return Operation(name, fn, writes, arguments, extra, TypeAdapter(hints.get("return", Any)))


_READS = (
    crm_calls.get_call,
    crm_customers.get_customer,
    crm_services.list_services,
    caller_records.own_tickets,
    caller_records.own_quotes,
)
_WRITES = (
    call_opening.open_call_record,
    crm_calls.add_event,
    crm_calls.add_turn,
    crm_calls.end_call,
    crm_calls.mark_agent_joined,
    crm_calls.set_call_language,
    crm_calls.set_claimed_details,
    crm_identity.verify_code,
    crm_quotes.create_quote,
    crm_tickets.open_ticket,
    caller_records.save_caller,
    caller_records.schedule_follow_up,
    caller_records.open_callback_ticket,
)
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in [
        *(_operation(fn, writes=False) for fn in _READS),
        *(_operation(fn, writes=True) for fn in _WRITES),
    ]
}
_BY_FUNCTION = {op.fn: op for op in OPERATIONS.values()}


def operation_for(fn: Callable[..., Any]) -> Operation:
    """The operation of a store function; `KeyError` for one a worker may not run remotely."""
    try:
        return _BY_FUNCTION[fn]
    except KeyError:
        raise KeyError(
            f"{fn.__module__}.{fn.__name__} is not a worker operation (app.crm.worker_operations)"
        ) from None


def error_answer(error: CrmError) -> dict[str, str]:
    name = type(error).__name__ if type(error).__name__ in ERRORS else "InvalidInput"
    return {"type": name, "detail": str(error)}


def raise_error(answer: dict[str, Any]) -> typing.NoReturn:
    cls = ERRORS.get(str(answer.get("type")), CrmError)
    raise cls(str(answer.get("detail", "")))


def apply(db: Database, *, request_id: str, name: str, arguments: dict[str, Any]) -> dict:
    """Run one operation on `db` (inside the caller's transaction): `{"answer": ...}` or
    `{"error": {"type", "detail"}}`. A write already applied under `request_id` is not run
    again; its recorded outcome is returned."""
    op = OPERATIONS[name]
    if op.writes:
        done = list(db.query("SELECT answer FROM worker_requests WHERE id = ?", [request_id]))
        if done:
            return json.loads(done[0]["answer"])
    try:
        with db.atomic():
            outcome: dict = {"answer": op.encode_answer(op.fn(db, **op.validate(arguments)))}
    except CrmError as error:
        outcome = {"error": error_answer(error)}
    except sqlite3.OperationalError:
        raise  # the file is busy or broken: the whole batch answers 503 and is retried
    except Exception:
        log.exception("a worker's CRM operation failed", extra={"operation": name})
        outcome = {"error": error_answer(OperationFailed(f"{name} failed on the API"))}
    if op.writes:
        db.execute(
            "INSERT INTO worker_requests (id, operation, answer, at) VALUES (?, ?, ?, ?)",
            [request_id, name, json.dumps(outcome, ensure_ascii=False), now_iso()],
        )
    return outcome


def forget_old_answers(db: Database) -> int:
    """Drop answers older than REMEMBER_ANSWERS; returns how many."""
    cutoff = iso(now() - REMEMBER_ANSWERS)
    return db.execute("DELETE FROM worker_requests WHERE at < ?", [cutoff]).rowcount
