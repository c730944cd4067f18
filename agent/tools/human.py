"""Transfer to a person: every persona has it, for "let me talk to a human" or when the AI
cannot help. A phone call is handed over with a SIP REFER to SIP_TRANSFER_TO after a short
line; a web call, no destination or a failed transfer leaves a callback ticket instead."""

from __future__ import annotations

import asyncio
import logging

from livekit.agents import RunContext, function_tool, get_job_context

from agent import identity, phone
from agent.call_state import CallState
from agent.notices import HUMAN_TRANSFER, NO_HUMAN
from agent.tools.guard import guarded, required_text
from app.crm import calls as crm_calls
from app.crm.caller_records import open_callback_ticket

logger = logging.getLogger("ornina.agent.human")

LINE_PLAYOUT_TIMEOUT = 15.0


def _transferred(state: CallState, reason: str, referring: asyncio.Future) -> None:
    if referring.cancelled() or referring.exception() is not None:
        return
    state.outcome = "transferred_to_human"
    state.crm.submit(
        crm_calls.add_event,
        call_id=state.call_id,
        kind="human_transfer",
        persona=state.persona.value,
        reason=reason,
        to=state.human_line,
    )


class HumanTransferTools:
    @function_tool
    @guarded
    async def transfer_to_human(self, context: RunContext[CallState], reason: str) -> str:
        """Called when the caller asks to speak to a person (a human, a real agent, a member of
        staff), or when you cannot help them and a person could. Do not say anything first:
        this tool tells the caller what happens.

        Args:
            reason: why the caller needs a person, in a few words
        """
        state = context.userdata
        reason = required_text(reason, "reason", max_length=200)
        why = "web" if state.phone is None else ("no_destination" if not state.human_line else "")
        if not why:
            handle = context.session.say(HUMAN_TRANSFER[state.language], allow_interruptions=False)
            try:
                await asyncio.wait_for(handle.wait_for_playout(), LINE_PLAYOUT_TIMEOUT)
                referring = asyncio.ensure_future(
                    phone.refer(
                        get_job_context().api,
                        room=get_job_context().room.name,
                        identity=state.phone.participant_identity,
                        to=state.human_line,
                    )
                )
                # An accepted REFER hangs up the caller's leg, which ends the session and may
                # cancel this tool before it resumes: the transfer is recorded when the REFER
                # returns, whatever happens to the tool.
                referring.add_done_callback(lambda done: _transferred(state, reason, done))
                await asyncio.shield(referring)
            except Exception:
                logger.exception("transfer to a person failed", extra={"call_id": state.call_id})
                why = "failed"
            else:
                return "The caller is being connected to a colleague. Say nothing more."
        ticket = await state.crm.run(
            open_callback_ticket,
            call_id=state.call_id,
            customer_id=state.customer_id,
            description=f"The caller asked for a person ({reason}); no transfer: {why}.",
            subject="Call back: the caller asked for a person",
        )
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind="human_transfer_unavailable",
            persona=state.persona.value,
            reason=reason,
            why=why,
            ticket=ticket["number"] if ticket else None,
        )
        said = identity.say(state.language, NO_HUMAN[why])
        if ticket is None:
            return (
                f"No transfer is possible. {said} There is no number to call back: ask for the "
                "caller's name and phone number, note them with update_contact_details, then "
                "call transfer_to_human again to open the callback request."
            )
        return (
            f"No transfer is possible. {said} Callback request {ticket['number']} is open: "
            "give the caller that number."
        )
