"""The agent workers this API knows of, for operators: where each is, and its load."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.auth import OperatorDep
from app.schemas import error_responses

router = APIRouter(
    prefix="/api/workers",
    tags=["workers"],
    dependencies=[OperatorDep],
    responses=error_responses(401, 403),
)


@router.get("")
async def list_workers(request: Request) -> dict:
    """The workers on other machines that reported in the last few seconds (their name, agent
    name, LiveKit server, calls in progress and capacity). A worker in this container reports
    on `/readyz` instead."""
    return {"workers": request.app.state.worker_registry.public()}
