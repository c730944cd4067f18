"""How tool failures reach the model: as a `ToolError` it can read and recover from, never as
an exception that ends the call."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from livekit.agents import ToolError

from agent import identity
from agent.call_state import CallState
from app.crm import CrmError
from app.crm import calls as crm_calls

logger = logging.getLogger("ornina.agent.tools")

P = ParamSpec("P")
R = TypeVar("R")

UNEXPECTED = (
    "This action failed because of an internal problem. Apologise briefly and offer to try "
    "again or to have someone call the caller back."
)


def guarded(tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn CRM refusals into their one-line message and anything unexpected (logged with its
    traceback) into a neutral `ToolError`."""

    @functools.wraps(tool)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await tool(*args, **kwargs)
        except ToolError:
            raise
        except CrmError as error:
            raise ToolError(str(error)) from None
        except Exception:
            logger.exception("tool failed", extra={"tool": tool.__name__})
            raise ToolError(UNEXPECTED) from None

    return wrapper


def text_arg(value: str | None, name: str, *, max_length: int = 500) -> str | None:
    """An optional text argument: blank means not given; too long is refused."""
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > max_length:
        raise ToolError(f"{name} is too long (at most {max_length} characters)")
    return text or None


def required_text(value: str | None, name: str, *, max_length: int = 500) -> str:
    text = text_arg(value, name, max_length=max_length)
    if text is None:
        raise ToolError(f"{name} is empty: fill it in and try again")
    return text


def caller_record(state: CallState, tool: str) -> int:
    """The verified caller's own record id, or a ToolError telling the model what to say: on
    an unverified call, that nothing on a record can be read or changed before verification
    (recorded as an `identity_required` event)."""
    if not state.verified:
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind="identity_required",
            persona=state.persona.value,
            tool=tool,
        )
        raise ToolError(identity.not_verified(state.language))
    if state.customer_id is None:
        raise ToolError(
            "The caller's number is verified but has no CRM record yet, so there is nothing "
            "of theirs to read. Ask for their name and save it with identify_caller."
        )
    return state.customer_id


def owner(state: CallState) -> tuple[int | None, str]:
    """Whom a new ticket, quote or follow-up belongs to: the verified caller's record, or (a
    claim alone attaches nothing to a record) the call, for our team to link; with the words
    for the model."""
    if state.customer_id is not None:
        return state.customer_id, ""
    return None, (
        " It is kept on this call, not on any customer record: our team links it to the "
        "caller's record once they know who the caller is. Say so briefly."
    )
