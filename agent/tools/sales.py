"""Sarah's tools: the service catalog, quotes priced from it, follow-ups."""

from __future__ import annotations

from livekit.agents import RunContext, ToolError, function_tool
from pydantic import BaseModel, Field

from agent.call_state import CallState
from agent.tools.guard import caller_record, guarded, owner, text_arg
from app.crm import caller_records
from app.crm import quotes as crm_quotes
from app.crm import services as crm_services

MAX_FOLLOW_UP_DAYS = 60


class QuoteItem(BaseModel):
    service_code: str = Field(description="the service's code from list_services")
    quantity: int = Field(description="how many units (months, hours, ...), usually 1")


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _quote_line(quote: dict, language: str) -> str:
    items = "; ".join(
        f"{item['quantity']} x {item['name_' + language]} "
        f"({_money(item['amount'], item['currency'])})"
        for item in quote["items"]
    )
    return (
        f"Quote {quote['number']}: {items}. Total {_money(quote['total'], quote['currency'])}, "
        f"valid until {quote['valid_until'][:10]}."
    )


class SalesTools:
    @function_tool
    @guarded
    async def list_services(self, context: RunContext[CallState]) -> str:
        """Called when the caller asks what Ornina offers or what something costs. Returns the
        service catalog with each service's code and price; quote only these prices."""
        state = context.userdata
        services = await state.crm.run(crm_services.list_services, active_only=True)
        if not services:
            return "The catalog is empty: no services can be quoted right now."
        lang = state.language
        return "\n".join(
            f"{s['code']}: {s['name_' + lang]}, {_money(s['price'], s['currency'])} per "
            f"{s['unit']}. {s['description_' + lang]}"
            for s in services
        )

    @function_tool
    @guarded
    async def create_quote(self, context: RunContext[CallState], items: list[QuoteItem]) -> str:
        """Called when the caller wants a price quote for one or more catalog services. Prices
        come from the catalog; read the quote number and the total back to the caller.

        Args:
            items: the services to quote, each with its catalog code and a quantity
        """
        state = context.userdata
        customer_id, kept_on_call = owner(state)
        if not items:
            raise ToolError("a quote needs at least one item from list_services")
        quote = await state.crm.run(
            crm_quotes.create_quote,
            customer_id=customer_id,
            call_id=state.call_id,
            items=[item.model_dump() for item in items],
        )
        return (
            _quote_line(quote, state.language) + " Read the quote number and the total back "
            "to the caller." + kept_on_call
        )

    @function_tool
    @guarded
    async def schedule_follow_up(
        self, context: RunContext[CallState], days_from_now: int, note: str | None = None
    ) -> str:
        """Called when the caller wants time to decide and agrees to be contacted again.

        Args:
            days_from_now: in how many days to follow up (1 to 60)
            note: what to follow up about, in a few words
        """
        state = context.userdata
        customer_id, kept_on_call = owner(state)
        if not 1 <= days_from_now <= MAX_FOLLOW_UP_DAYS:
            raise ToolError(f"days_from_now must be between 1 and {MAX_FOLLOW_UP_DAYS}")
        follow_up = await state.crm.run(
            caller_records.schedule_follow_up,
            customer_id=customer_id,
            call_id=state.call_id,
            days_from_now=days_from_now,
            note=text_arg(note, "note") or "",
        )
        return (
            f"Follow-up scheduled for {follow_up['due_at'][:10]}. Tell the caller the date."
            + kept_on_call
        )

    @function_tool
    @guarded
    async def my_quotes(
        self, context: RunContext[CallState], quote_number: str | None = None
    ) -> str:
        """Called when the caller asks about their own quotes. Only a verified caller's own
        quotes can be read; any other quote number is simply not found.

        Args:
            quote_number: the quote number the caller gave (like QT-000012), if any
        """
        state = context.userdata
        customer_id = caller_record(state, "my_quotes")
        number = None
        if text_arg(quote_number, "quote_number", max_length=40):
            number = caller_records.record_number(quote_number or "", "QT")
            if number is None:
                raise ToolError("that is not a quote number: quote numbers look like QT-000012")
        quotes = await state.crm.run(
            caller_records.own_quotes, customer_id=customer_id, number=number
        )
        if not quotes:
            return (
                "No quote with that number on this caller's record."
                if number
                else "The caller has no quotes yet."
            )
        return "\n".join(_quote_line(quote, state.language) for quote in quotes)
