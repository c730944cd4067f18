"""The three personas as LiveKit agents, built from personas.py: prompt and voice per language,
tools per department, and one transfer tool whose choices come from the persona's table."""

# No `from __future__ import annotations` here: the transfer tool's parameter type is built per
# persona at run time, and its annotation must be a real object, not a string.

import logging
from collections.abc import AsyncIterable
from typing import Annotated, Any, ClassVar

from livekit.agents import (
    NOT_GIVEN,
    Agent,
    ChatContext,
    ChatMessage,
    ModelSettings,
    RunContext,
    ToolError,
    function_tool,
)
from livekit.agents.llm import ChatChunk, FunctionTool, Tool
from pydantic import Field

from agent.call_state import CallState
from agent.holding import with_hold_lines
from agent.output_guard import REFUSAL, OutputGuard
from agent.routing import detect_department, routing_hint
from agent.tools import (
    ComplaintsTools,
    ContactTools,
    HumanTransferTools,
    ReceptionTools,
    SalesTools,
)
from agent.tools.guard import guarded, text_arg
from agent.transfer import handoff_context, record_transfer
from app.crm import calls as crm_calls
from personas import (
    LANGUAGES,
    PersonaType,
    get_greeting,
    get_persona,
    get_system_prompt,
)

logger = logging.getLogger("ornina.agent.personas")

LANGUAGE_NAMES = {"ar": "Arabic", "en": "English"}
Language = Annotated[str, Field(json_schema_extra={"enum": list(LANGUAGES)})]


class PersonaAgent(ContactTools, HumanTransferTools, Agent):
    """A persona: its words and voice from personas.py, the tools every persona has (contact
    details, verification, a person on the line), and its department's tools from the mixins of
    the subclass."""

    persona: ClassVar[PersonaType]

    def __init__(
        self, state: CallState, *, chat_ctx: ChatContext | None = None, handed_over: bool = False
    ) -> None:
        self._handed_over = handed_over
        voice = state.voice
        super().__init__(
            id=self.persona.value,
            instructions=self._prompt(state),
            chat_ctx=chat_ctx if chat_ctx is not None else NOT_GIVEN,
            tools=[_transfer_tool(self.persona)],
            stt=voice.stt(state.language) if voice else NOT_GIVEN,
            tts=voice.tts(self.persona, state.language) if voice else NOT_GIVEN,
        )

    def _prompt(self, state: CallState) -> str:
        return (
            f"{get_system_prompt(self.persona, state.language)}\n\n"
            f"About this caller: {state.caller_facts()}"
        )

    async def llm_node(
        self, chat_ctx: ChatContext, tools: list[Tool], model_settings: ModelSettings
    ) -> AsyncIterable[ChatChunk | str]:
        """The model's reply, checked before it is spoken: never the prompt, never a secret;
        a hold line while it is late (agent.holding). While an operator has the call
        (agent.supervision) there is none: the caller's words are still transcribed and
        recorded, but not answered."""
        state: CallState = self.session.userdata
        if state.taken_over_by is not None:
            return
        guard = OutputGuard(self.instructions, state.secrets)
        reply = with_hold_lines(
            Agent.default.llm_node(self, chat_ctx, tools, model_settings), state.language
        )
        async for piece in guard.filter(reply, refusal=REFUSAL[state.language]):
            yield piece
        if guard.blocked is not None:
            logger.warning(
                "reply withheld", extra={"call_id": state.call_id, "reason": guard.blocked}
            )
            state.crm.submit(
                crm_calls.add_event,
                call_id=state.call_id,
                kind="guard_blocked",
                persona=self.persona.value,
                reason=guard.blocked,
            )

    async def on_enter(self) -> None:
        state: CallState = self.session.userdata
        state.persona = self.persona
        await state.announce()
        if not self._handed_over:
            greeting = get_greeting(
                self.persona,
                state.language,
                state.caller_name,
                returning=state.returning,
                callback=state.callback_about is not None,
            )
            notice = state.notice.get(state.language, "")
            self.session.say(f"{notice} {greeting}" if notice else greeting)
            return
        self.session.say(get_persona(self.persona).handoff_intro[state.language])
        self.session.generate_reply(instructions=_continue_instructions(state))

    async def caller_changed(self, state: CallState) -> None:
        await self.update_instructions(self._prompt(state))

    async def use_language(self, state: CallState) -> None:
        """Make the prompt, speech recognition and voice follow the call's language."""
        await self.update_instructions(self._prompt(state))
        await state.announce()
        if state.voice is not None:
            self.update_options(
                stt=state.voice.stt(state.language),
                tts=state.voice.tts(self.persona, state.language),
            )

    @function_tool
    @guarded
    async def switch_language(self, context: RunContext[CallState], language: Language) -> str:
        """Called when the caller speaks another language than the one you are using, or asks
        for Arabic or English. Speech recognition, your voice and your instructions follow.

        Args:
            language: "ar" for Arabic, "en" for English
        """
        state = context.userdata
        language = language.strip().lower()
        if language not in LANGUAGES:
            raise ToolError(f"language must be one of {', '.join(LANGUAGES)}")
        name = LANGUAGE_NAMES[language]
        if language == state.language:
            return f"The call is already in {name}; keep speaking {name}."
        previous, state.language = state.language, language
        await self.use_language(state)
        await state.crm.run(crm_calls.set_call_language, call_id=state.call_id, language=language)
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind="language_changed",
            persona=self.persona.value,
            **{"from": previous, "to": language},
        )
        return f"Switched the call to {name}. From now on speak only {name}."

    @function_tool
    @guarded
    async def end_call(self, context: RunContext[CallState], reason: str | None = None) -> str:
        """Called when the caller is done: they said goodbye or need nothing else. You will say
        goodbye, then the call ends.

        Args:
            reason: how the call ended, in a few words
        """
        state = context.userdata
        state.outcome = state.outcome or "completed"
        state.crm.submit(
            crm_calls.add_event,
            call_id=state.call_id,
            kind="end_requested",
            persona=self.persona.value,
            reason=text_arg(reason, "reason", max_length=300),
        )
        # the goodbye is generated in this same speech; the call ends once it has played
        context.speech_handle.add_done_callback(lambda _: context.session.shutdown())
        by_name = f", using their name ({state.caller_name})" if state.caller_name else ""
        return (
            f"Say one short, warm goodbye in {LANGUAGE_NAMES[state.language]}{by_name}. "
            "Do not call any tool."
        )


class ReceptionAgent(ReceptionTools, PersonaAgent):
    persona = PersonaType.RECEPTION

    def llm_node(
        self, chat_ctx: ChatContext, tools: list[Tool], model_settings: ModelSettings
    ) -> Any:
        # here rather than in on_user_turn_completed, which typed (text) input never reaches
        last = chat_ctx.items[-1] if chat_ctx.items else None
        if isinstance(last, ChatMessage) and last.role == "user":
            department = detect_department(last.text_content or "")
            if department is not None:
                # just before the caller's words, which stay the last thing the model reads
                chat_ctx = chat_ctx.copy()
                hint = ChatMessage(role="system", content=[routing_hint(department)])
                chat_ctx.items.insert(len(chat_ctx.items) - 1, hint)
        return super().llm_node(chat_ctx, tools, model_settings)


class SalesAgent(SalesTools, PersonaAgent):
    persona = PersonaType.SALES


class ComplaintsAgent(ComplaintsTools, PersonaAgent):
    persona = PersonaType.COMPLAINTS


AGENT_TYPES: dict[PersonaType, type[PersonaAgent]] = {
    cls.persona: cls for cls in (ReceptionAgent, SalesAgent, ComplaintsAgent)
}


def build_agent(
    persona: PersonaType, state: CallState, *, chat_ctx: ChatContext | None = None
) -> PersonaAgent:
    """The persona's agent; with `chat_ctx` it takes over a call already under way."""
    return AGENT_TYPES[persona](state, chat_ctx=chat_ctx, handed_over=chat_ctx is not None)


def _continue_instructions(state: CallState) -> str:
    name = f" Address the caller as {state.caller_name}." if state.caller_name else ""
    return (
        f"You have just introduced yourself to the caller, who was transferred to you. Now "
        f"continue the call in {LANGUAGE_NAMES[state.language]} in one or two sentences: take "
        f"up their need from the transfer note, without greeting or introducing yourself "
        f"again and without asking for anything already known.{name}"
    )


def _transfer_tool(persona: PersonaType) -> FunctionTool:
    targets = [target.value for target in get_persona(persona).transfers_to]

    @function_tool
    @guarded
    async def transfer_to_department(
        context: RunContext[CallState],
        department: Annotated[str, Field(json_schema_extra={"enum": targets})],
        reason: str,
        summary: str,
    ) -> Agent:
        """Called when another department fits the caller's need better: sales for buying,
        prices and quotes; complaints for problems, complaints and support; reception for
        anything else. The caller is handed over with this conversation and your summary, so
        nobody asks them again.

        Args:
            department: the department to transfer the caller to
            reason: why, in one short line
            summary: what the next person needs to know: who the caller is, what they want,
                what has been done so far
        """
        state = context.userdata
        transfer = await record_transfer(
            state, department=department, reason=reason, summary=summary
        )
        logger.info(
            "transfer",
            extra={
                "call_id": state.call_id,
                "from": transfer.source.value,
                "to": transfer.target.value,
            },
        )
        return build_agent(
            transfer.target, state, chat_ctx=handoff_context(context.session.history, state)
        )

    return transfer_to_department
