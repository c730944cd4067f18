"""The call recorder: every caller and agent turn, persona change and tool outcome goes to the
CRM when it happens, and the call is closed with its outcome when the session ends.

Session events are delivered synchronously, so writes are queued on the call's CRM thread
(`CallCrm.submit`), which keeps them in order without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import logging

from livekit.agents import (
    AgentHandoff,
    AgentSession,
    ChatMessage,
    CloseEvent,
    ConversationItemAddedEvent,
    ErrorEvent,
    FunctionToolsExecutedEvent,
)

from agent.call_state import CallState
from app.crm import calls as crm_calls
from personas import PersonaType

logger = logging.getLogger("ornina.agent.recorder")

ROLES = {"user": "caller", "assistant": "agent"}
# ChatMessage.metrics key -> transcript column
USER_METRICS = {
    "end_of_turn_delay": "end_of_turn_delay",
    "transcription_delay": "transcription_delay",
}
AGENT_METRICS = {
    "llm_node_ttft": "llm_ttft",
    "tts_node_ttfb": "tts_ttfb",
    "e2e_latency": "e2e_latency",
}
OUTCOME_BY_CLOSE_REASON = {
    "participant_disconnected": "caller_hung_up",
    "user_initiated": "completed",
    "task_completed": "completed",
    "job_shutdown": "worker_shutdown",
    "error": "error",
}
MAX_ERROR_TEXT = 300


class CallRecorder:
    def __init__(self, session: AgentSession[CallState], state: CallState) -> None:
        self._state = state
        self._close_reason: str | None = None
        self._finish_task: asyncio.Task[None] | None = None
        session.on("conversation_item_added", self._on_item_added)
        session.on("function_tools_executed", self._on_tools_executed)
        session.on("error", self._on_error)
        session.on("close", self._on_close)

    def _event(self, kind: str, **data: object) -> None:
        state = self._state
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind=kind,
            persona=state.persona.value,
            **data,
        )

    def _on_item_added(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        state = self._state
        if isinstance(item, AgentHandoff):
            if item.new_agent_id in PersonaType._value2member_map_:
                state.crm.submit(
                    crm_calls.add_event,
                    call_id=state.call_id,
                    kind="persona_entered",
                    persona=item.new_agent_id,
                    previous=item.old_agent_id,
                )
            return
        if not isinstance(item, ChatMessage) or item.role not in ROLES:
            return
        text = item.text_content
        if not text:
            return
        wanted = USER_METRICS if item.role == "user" else AGENT_METRICS
        metrics = {
            column: float(item.metrics[key])  # type: ignore[literal-required]
            for key, column in wanted.items()
            if item.metrics.get(key) is not None
        }
        state.crm.submit(
            crm_calls.add_turn,
            call_id=state.call_id,
            role=ROLES[item.role],
            text=text,
            persona=state.persona.value,
            language=state.language,
            interrupted=item.interrupted,
            **metrics,
        )

    def _on_tools_executed(self, event: FunctionToolsExecutedEvent) -> None:
        for call, output in event.zipped():
            if output.is_error:
                self._event("tool_error", tool=call.name, error=output.output[:MAX_ERROR_TEXT])
            else:
                self._event("tool_called", tool=call.name)

    def _on_error(self, event: ErrorEvent) -> None:
        error = event.error
        recoverable = bool(getattr(error, "recoverable", False))
        stage = str(getattr(error, "type", "error")).removesuffix("_error")
        if recoverable:
            logger.debug("provider error, retrying", extra={"stage": stage})
            return
        cause = getattr(error, "error", error)
        self._event(
            "error",
            stage=stage,
            provider=getattr(event.source, "provider", None),
            error=f"{type(cause).__name__}: {cause}"[:MAX_ERROR_TEXT],
        )

    def _on_close(self, event: CloseEvent) -> None:
        self._close_reason = event.reason.value
        self.finish_soon()

    def finish_soon(self) -> None:
        if self._finish_task is None:
            self._finish_task = asyncio.get_running_loop().create_task(self._finish())

    async def finish(self) -> None:
        """Close the call in the CRM (once) and wait until everything is written."""
        self.finish_soon()
        assert self._finish_task is not None
        await asyncio.shield(self._finish_task)

    async def _finish(self) -> None:
        state = self._state
        reason = self._close_reason or "job_shutdown"
        outcome = state.outcome or OUTCOME_BY_CLOSE_REASON.get(reason, reason)
        self._event("ended", outcome=outcome, reason=reason)
        try:
            await state.crm.run(crm_calls.end_call, call_id=state.call_id, outcome=outcome)
        except Exception:
            logger.exception("could not close the call", extra={"call_id": state.call_id})
        await state.crm.flush()
        logger.info("call ended", extra={"call_id": state.call_id, "outcome": outcome})
