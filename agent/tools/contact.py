"""The caller's own contact details: every persona may update them, Reception identifies."""

from __future__ import annotations

from livekit.agents import RunContext, ToolError, function_tool

from agent import caller_records
from agent.call_state import CallState
from agent.tools.guard import guarded, required_text, text_arg


async def _save(tools: ContactTools, state: CallState, **fields: str | None) -> dict:
    given = {key: value for key, value in fields.items() if value is not None}
    if not given:
        raise ToolError("No details were given: pass at least one of the caller's details")
    customer = await state.crm.run(
        caller_records.save_caller,
        call_id=state.call_id,
        customer_id=state.customer_id,
        region=state.region,
        **given,
    )
    state.customer_id = customer["id"]
    state.caller_name = customer["name"]
    await tools.caller_changed(state)
    return customer


def _describe(customer: dict) -> str:
    known = [field for field in ("name", "phone", "email") if customer.get(field)]
    name = customer.get("name") or "not given"
    return f"Record saved. Name: {name}. On file: {', '.join(known) or 'nothing yet'}."


class ContactTools:
    async def caller_changed(self, state: CallState) -> None:
        """What the persona knows about the caller changed (its agent refreshes its prompt)."""

    @function_tool
    @guarded
    async def update_contact_details(
        self,
        context: RunContext[CallState],
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> str:
        """Called when the caller gives or corrects their own name, phone number or email.
        Only the caller's own record is changed (it is created if they have none yet). Never
        use this to look anyone else up.

        Args:
            name: the caller's own full name, as they said it
            phone: the caller's own phone number, as they said it
            email: the caller's own email address
        """
        customer = await _save(
            self,
            context.userdata,
            name=text_arg(name, "name", max_length=120),
            phone=text_arg(phone, "phone", max_length=32),
            email=text_arg(email, "email", max_length=254),
        )
        return _describe(customer) + " Do not ask for these details again."


class ReceptionTools:
    @function_tool
    @guarded
    async def identify_caller(
        self,
        context: RunContext[CallState],
        name: str,
        phone: str | None = None,
        email: str | None = None,
        service_interest: str | None = None,
    ) -> str:
        """Called once the caller has told you who they are: records their name, phone number,
        email and the service they are interested in on their own CRM record, creating it if
        they are new.

        Args:
            name: the caller's full name
            phone: the caller's own phone number, if they gave it
            email: the caller's email address, if they gave it
            service_interest: the service they are interested in, in a few words
        """
        customer = await _save(
            self,
            context.userdata,
            name=required_text(name, "name", max_length=120),
            phone=text_arg(phone, "phone", max_length=32),
            email=text_arg(email, "email", max_length=254),
            service_interest=text_arg(service_interest, "service_interest", max_length=200),
        )
        return (
            _describe(customer) + " The caller is identified; address them by name and do not "
            "ask for these details again."
        )
