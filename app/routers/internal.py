"""Routes for agent workers on other machines: the CRM operations their calls run, and the load
each worker reports (README, "Deployment shapes").

Only the worker service key (`X-Service-Key`, WORKER_SERVICE_KEY) opens these routes, and it
opens nothing else: operator routes never read that header, and an operator's key or session
is refused here. With no service key configured, every request is refused.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from sqlite_utils import Database

from app.crm.worker_operations import (
    OPERATIONS,
    SERVICE_KEY_HEADER,
    apply,
    forget_old_answers,
)
from app.deps import SettingsDep
from app.schemas import error_responses
from app.worker_registry import WorkerReport

log = logging.getLogger("ornina.api.internal")

MAX_OPERATIONS = 200
FORGET_EVERY = 300.0
"""Seconds between two clean-ups of old answers (app.crm.worker_operations)."""

_service_key = APIKeyHeader(
    name=SERVICE_KEY_HEADER, scheme_name="WorkerServiceKey", auto_error=False
)


async def service_worker(
    settings: SettingsDep, supplied: Annotated[str | None, Depends(_service_key)]
) -> None:
    """401 unless the request carries this installation's worker service key."""
    expected = settings.worker_service_key
    if not supplied:
        raise HTTPException(401, f"workers send the {SERVICE_KEY_HEADER} header")
    if expected is None or not secrets.compare_digest(
        supplied.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "wrong service key")


router = APIRouter(
    prefix="/internal",
    tags=["internal"],
    dependencies=[Depends(service_worker)],
    responses=error_responses(400, 401, 422),
)

OperationName = Literal[tuple(OPERATIONS)]  # type: ignore[valid-type]


class OperationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    """Chosen by the worker; a retry sends the same id and gets the first answer."""
    name: OperationName
    arguments: dict[str, Any] = Field(default_factory=dict)


class OperationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    operations: list[OperationIn] = Field(min_length=1, max_length=MAX_OPERATIONS)


class OperationOut(BaseModel):
    id: str
    answer: Any = None
    error: dict[str, str] | None = None
    """`{"type": "NotFound" | "InvalidInput" | "Conflict" | "InvalidArguments", "detail"}`."""


class OperationsOut(BaseModel):
    results: list[OperationOut]


def _apply_all(db: Database, operations: list[OperationIn], forget: bool) -> list[dict]:
    if forget:
        forget_old_answers(db)
    return [
        {"id": op.id, **apply(db, request_id=op.id, name=op.name, arguments=op.arguments)}
        for op in operations
    ]


@router.post("/crm", responses=error_responses(503))
async def run_operations(request: Request, body: OperationsIn) -> OperationsOut:
    """Run a call's CRM operations in order, in one transaction, each in its own savepoint: an
    operation the CRM refuses (not found, invalid) answers with its error and undoes only its
    own writes. A write whose id was seen before is answered as it was then, not run again."""
    state = request.app.state
    forget = (
        time.monotonic() - getattr(state, "answers_forgotten_at", -FORGET_EVERY) >= FORGET_EVERY
    )
    if forget:
        state.answers_forgotten_at = time.monotonic()
    try:
        results = await state.crm_writer.run(_apply_all, body.operations, forget)
    except sqlite3.OperationalError as error:
        log.warning("CRM busy for a worker's operations", extra={"error": str(error)})
        raise HTTPException(503, "the CRM is busy; retry", headers={"Retry-After": "1"}) from None
    return OperationsOut(results=[OperationOut(**result) for result in results])


@router.put("/workers/{worker_id}", status_code=204)
async def report_worker(
    request: Request,
    worker_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")],
    report: WorkerReport,
) -> Response:
    """A worker's registration and load, every few seconds: the worker gate counts its free
    call slots with the others' (app/worker_gate.py)."""
    request.app.state.worker_registry.report(worker_id, report)
    return Response(status_code=204)
