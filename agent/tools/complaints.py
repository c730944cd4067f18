"""Mohammed's tools: support tickets for the caller's own problems."""

from __future__ import annotations

from typing import Annotated

from livekit.agents import RunContext, ToolError, function_tool
from pydantic import Field

from agent.call_state import CallState
from agent.tools.guard import caller_record, guarded, owner, required_text, text_arg
from app.crm import caller_records
from app.crm import tickets as crm_tickets

# callback tickets are opened by the worker itself when a call cannot be finished
CATEGORIES = tuple(c for c in crm_tickets.CATEGORIES if c != "callback")
Category = Annotated[str, Field(json_schema_extra={"enum": list(CATEGORIES)})]
Priority = Annotated[str, Field(json_schema_extra={"enum": list(crm_tickets.PRIORITIES)})]


def _due(ticket: dict) -> str:
    return ticket["sla_due_at"][:16].replace("T", " ") + " UTC"


def _ticket_line(ticket: dict) -> str:
    return (
        f"Ticket {ticket['number']} ({ticket['category']}, {ticket['priority']} priority): "
        f"{ticket['subject']}. Status {ticket['status']}, due by {_due(ticket)}."
    )


class ComplaintsTools:
    @function_tool
    @guarded
    async def open_ticket(
        self,
        context: RunContext[CallState],
        subject: str,
        category: Category,
        priority: Priority = "normal",
        description: str | None = None,
    ) -> str:
        """Called when the caller's problem needs follow-up by the support team. Opens a ticket
        for the caller (on their own record once they are verified); read its number and due
        time back to the caller.

        Args:
            subject: the problem in one short line
            category: billing, technical, service, delivery, account or other
            priority: urgent if the caller cannot work at all, high if badly affected, normal
                otherwise, low for minor issues
            description: what the caller told you, with any details needed to solve it
        """
        state = context.userdata
        customer_id, kept_on_call = owner(state)
        if not isinstance(category, str) or category.strip().lower() not in CATEGORIES:
            raise ToolError(f"category must be one of {', '.join(CATEGORIES)}")
        ticket = await state.crm.run(
            crm_tickets.open_ticket,
            customer_id=customer_id,
            call_id=state.call_id,
            subject=required_text(subject, "subject", max_length=200),
            category=category,
            priority=priority,
            description=text_arg(description, "description", max_length=2000) or "",
        )
        return (
            f"Opened ticket {ticket['number']} ({ticket['category']}, {ticket['priority']} "
            f"priority), due by {_due(ticket)}. Read the ticket number and the due time back "
            "to the caller." + kept_on_call
        )

    @function_tool
    @guarded
    async def my_tickets(
        self, context: RunContext[CallState], ticket_number: str | None = None
    ) -> str:
        """Called when the caller asks about the status of their own support tickets. Only a
        verified caller's own tickets can be read; any other ticket number is simply not found.

        Args:
            ticket_number: the ticket number the caller gave (like TKT-000012), if any
        """
        state = context.userdata
        customer_id = caller_record(state, "my_tickets")
        number = None
        if text_arg(ticket_number, "ticket_number", max_length=40):
            number = caller_records.record_number(ticket_number or "", "TKT")
            if number is None:
                raise ToolError("that is not a ticket number: ticket numbers look like TKT-000012")
        tickets = await state.crm.run(
            caller_records.own_tickets, customer_id=customer_id, number=number
        )
        if not tickets:
            return (
                "No ticket with that number on this caller's record."
                if number
                else "The caller has no tickets."
            )
        return "\n".join(_ticket_line(ticket) for ticket in tickets)
