from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from app.auth import Can, OperatorDep, record_change
from app.crm import tickets
from app.crm.db import writing
from app.deps import DbDep
from app.routers.pagination import Limit, Offset, PathId, QueryId
from app.schemas import TicketCreate, TicketStatusChange, error_responses

router = APIRouter(
    prefix="/api/tickets",
    tags=["tickets"],
    dependencies=[OperatorDep],
    responses=error_responses(400, 401, 404, 422),
)


@router.get("")
def list_tickets(
    db: DbDep,
    customer_id: QueryId = None,
    status: Literal["open", "in_progress", "resolved", "closed"] | None = None,
    priority: Literal["low", "normal", "high", "urgent"] | None = None,
    category: Literal["billing", "technical", "service", "delivery", "account", "callback", "other"]
    | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict]:
    """List tickets, newest first, filtered by customer, status, priority or category."""
    return tickets.list_tickets(
        db,
        customer_id=customer_id,
        status=status,
        priority=priority,
        category=category,
        limit=limit,
        offset=offset,
    )


@router.get("/{ticket_id}")
def get_ticket(ticket_id: PathId, db: DbDep) -> dict:
    """One ticket with its status history."""
    return tickets.get_ticket(db, ticket_id=ticket_id)


@router.post("", status_code=201)
def create_ticket(body: TicketCreate, db: DbDep, actor: Can("tickets.write")) -> dict:
    """Open a ticket for a customer; its SLA due time follows from the priority."""
    with writing(db):
        ticket = tickets.open_ticket(db, **body.model_dump())
        record_change(
            db,
            actor,
            "ticket.create",
            "ticket",
            ticket["id"],
            number=ticket["number"],
            customer_id=ticket["customer_id"],
        )
    return ticket


@router.post("/{ticket_id}/status")
def change_ticket_status(
    ticket_id: PathId, body: TicketStatusChange, db: DbDep, actor: Can("tickets.write")
) -> dict:
    """Move a ticket to another status, with an optional note kept in its history."""
    with writing(db):
        before = tickets.get_ticket(db, ticket_id=ticket_id)["status"]
        ticket = tickets.change_status(db, ticket_id=ticket_id, status=body.status, note=body.note)
        record_change(
            db, actor, "ticket.status", "ticket", ticket_id, **{"from": before, "to": body.status}
        )
    return ticket
