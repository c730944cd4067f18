"""Transfers between personas: who may go where (personas.py's table), how often, what is
recorded, and what the next persona is told."""

from __future__ import annotations

from livekit.agents import ChatContext, ToolError

from agent.call_state import CallState, Transfer
from agent.tools.guard import required_text
from app.crm import calls as crm_calls
from personas import PersonaType, get_persona, may_transfer

MAX_TRANSFERS = 6
"""Per call; past it the persona must help the caller where they are."""
CARRIED_ITEMS = 40
"""How much of the conversation the next persona receives (older turns are in the summary)."""


async def record_transfer(
    state: CallState, *, department: str, reason: str | None, summary: str | None
) -> Transfer:
    """Check a transfer the model asked for and record it; raises ToolError if it may not
    happen, so the model hears why and carries on."""
    source = state.persona
    allowed = ", ".join(p.value for p in get_persona(source).transfers_to)
    try:
        target = PersonaType(department.strip().lower())
    except ValueError:
        raise ToolError(
            f"unknown department {department!r}: you can transfer to {allowed}"
        ) from None
    if target == source:
        raise ToolError("the caller is already in this department: help them here")
    if not may_transfer(source, target):
        raise ToolError(f"you can transfer only to {allowed}")
    if len(state.transfers) >= MAX_TRANSFERS:
        raise ToolError(
            f"this call has already been transferred {len(state.transfers)} times, the most "
            "allowed: do not transfer again. Help the caller yourself as well as you can, or "
            "offer a callback."
        )
    transfer = Transfer(
        source=source,
        target=target,
        reason=required_text(reason, "reason", max_length=300),
        summary=required_text(summary, "summary", max_length=2000),
    )
    state.transfers.append(transfer)
    await state.crm.run(
        crm_calls.add_event,
        call_id=state.call_id,
        kind="transfer",
        persona=source.value,
        **{"from": source.value, "to": target.value, "reason": transfer.reason},
        summary=transfer.summary,
    )
    return transfer


def handoff_context(history: ChatContext, state: CallState) -> ChatContext:
    """The conversation so far plus a note of every transfer, for the next persona."""
    chat_ctx = history.copy(
        exclude_instructions=True,
        exclude_handoff=True,
        exclude_config_update=True,
        exclude_empty_message=True,
    )
    chat_ctx.truncate(max_items=CARRIED_ITEMS)
    _drop_unanswered_calls(chat_ctx)
    chat_ctx.add_message(role="system", content=transfer_note(state))
    return chat_ctx


def _drop_unanswered_calls(chat_ctx: ChatContext) -> None:
    """A tool call without its output (the transfer in flight) is refused by chat APIs."""
    answered = {item.call_id for item in chat_ctx.items if item.type == "function_call_output"}
    called = {item.call_id for item in chat_ctx.items if item.type == "function_call"}
    chat_ctx.items[:] = [
        item
        for item in chat_ctx.items
        if not (item.type == "function_call" and item.call_id not in answered)
        and not (item.type == "function_call_output" and item.call_id not in called)
    ]


def transfer_note(state: CallState) -> str:
    lines = ["Transfer note. This call was transferred to you:"]
    for transfer in state.transfers:
        source = get_persona(transfer.source).display("en")
        target = get_persona(transfer.target).display("en")
        lines.append(
            f"- from {source} to {target}. Reason: {transfer.reason} Summary: {transfer.summary}"
        )
    lines.append(
        "Continue from where the conversation stopped. Do not ask the caller again for anything "
        "already said above or in the summary."
    )
    return "\n".join(lines)
