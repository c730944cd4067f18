"""The caller's own contact details and identity: every persona may note details and verify the
caller, Reception identifies.

Details given by a verified caller change their own record. Details given by anyone else are a
claim: they are kept on the call (never on a customer record) for our team to link.
"""

from __future__ import annotations

from livekit.agents import RunContext, ToolError, function_tool

from agent import identity
from agent.call_state import CallState
from agent.tools.guard import guarded, required_text, text_arg
from app.crm import caller_records
from app.crm import calls as crm_calls
from app.crm import customers as crm_customers
from app.crm import identity as crm_identity

MAX_CODE_CHARS = 40


async def _save(tools: ContactTools, state: CallState, **fields: str | None) -> str:
    given = {key: value for key, value in fields.items() if value is not None}
    if not given:
        raise ToolError("No details were given: pass at least one of the caller's details")
    if state.customer_id is None and not (state.verified and state.caller_phone):
        # a claim: noted on the call, no record is looked up, created or changed
        interest = given.pop("service_interest", None)
        call = await state.crm.run(
            crm_calls.set_claimed_details,
            call_id=state.call_id,
            region=state.region,
            interest=interest,
            **given,
        )
        state.claimed_name, state.caller_phone = call["caller_name"], call["caller_phone"]
        if state.identity_level == "anonymous":
            state.identity_level = "claimed"
        await tools.caller_changed(state)
        return (
            "Noted on this call only: the caller is not verified, so no customer record was "
            "looked up or changed, and nothing from one may be read back. Do not ask for these "
            "details again."
        )
    customer, phone_noted = await state.crm.run(
        caller_records.save_caller,
        call_id=state.call_id,
        customer_id=state.customer_id,
        verified_phone=state.caller_phone if state.verified else None,
        region=state.region,
        **given,
    )
    state.customer_id = customer["id"]
    state.caller_name = customer["name"]
    await tools.caller_changed(state)
    known = [field for field in ("name", "phone", "email") if customer.get(field)]
    name = customer.get("name") or "not given"
    noted = (
        " The new phone number is noted for our team to confirm; it is not on the record yet."
        if phone_noted
        else ""
    )
    return (
        f"Record saved. Name: {name}. On file: {', '.join(known) or 'nothing yet'}.{noted} Do "
        "not ask for these details again."
    )


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
        A verified caller's own record is changed; for anyone else the details are only noted
        on this call. Never use this to look anyone up.

        Args:
            name: the caller's own full name, as they said it
            phone: the caller's own phone number, as they said it
            email: the caller's own email address
        """
        return await _save(
            self,
            context.userdata,
            name=text_arg(name, "name", max_length=120),
            phone=text_arg(phone, "phone", max_length=32),
            email=text_arg(email, "email", max_length=254),
        )

    @function_tool
    @guarded
    async def verify_identity(
        self, context: RunContext[CallState], code: str, phone: str | None = None
    ) -> str:
        """Called when the caller gives the one-time verification code that our team or their
        account page on the Ornina website gave them. Pass the whole code exactly as said, in
        one call; never guess, complete or repeat a code yourself. Attempts are limited.

        Args:
            code: the code, all its digits, as the caller said it
            phone: the caller's phone number on their record, if they gave one in this call
        """
        state = context.userdata
        if state.verified and state.customer_id is not None:
            return "The caller is already verified; carry on helping them."
        code = required_text(code, "code", max_length=MAX_CODE_CHARS)
        number = text_arg(phone, "phone", max_length=32) or state.caller_phone
        if not number:
            raise ToolError(
                "Ask the caller for the phone number on their record first, then call "
                "verify_identity with it and the code."
            )
        result = await state.crm.run(
            crm_identity.verify_code,
            call_id=state.call_id,
            phone=number,
            code=code,
            region=state.region,
        )
        if result.result == "locked":
            return (
                "Verification is locked for this call: do not try again and do not ask for "
                "another code. " + identity.say(state.language, identity.LOCKED)
            )
        if result.result == "wrong":
            return (
                "The code was not accepted (do not say whether the number is known to us). "
                f"{result.attempts_left} attempt(s) left on this call. Ask the caller to check "
                "the number and the code."
            )
        customer = await state.crm.run(crm_customers.get_customer, customer_id=result.customer_id)
        state.identity_level, state.identity_method = "verified", "in_call_code"
        state.customer_id, state.caller_name = customer["id"], customer["name"]
        state.caller_phone = customer["phone"]
        await self.caller_changed(state)
        return (
            f"Verified: the caller is {customer['name'] or 'the customer'} on record. Thank "
            "them; you may now help with their own record, tickets and quotes."
        )


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
        email and the service they are interested in (on their own record once they are
        verified, otherwise on this call for our team).

        Args:
            name: the caller's full name
            phone: the caller's own phone number, if they gave it
            email: the caller's email address, if they gave it
            service_interest: the service they are interested in, in a few words
        """
        return await _save(
            self,
            context.userdata,
            name=required_text(name, "name", max_length=120),
            phone=text_arg(phone, "phone", max_length=32),
            email=text_arg(email, "email", max_length=254),
            service_interest=text_arg(service_interest, "service_interest", max_length=200),
        )
