"""A deterministic LLM for agent tests: a Python function decides each reply (text and tool
calls) from the request it receives, and every request is kept for assertions. No network."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm
from livekit.agents.llm import ChatChunk, ChatContext, ChoiceDelta, FunctionToolCall
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions


@dataclass
class Reply:
    text: str = ""
    calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    """(tool name, arguments); a str is sent as the raw arguments (for malformed JSON)."""


def call(name: str, arguments: dict[str, Any] | str | None = None, text: str = "") -> Reply:
    return Reply(text=text, calls=[(name, arguments if arguments is not None else {})])


@dataclass
class Request:
    """What the model was asked: the chat context and the tools it could call."""

    chat_ctx: ChatContext
    tools: list[str]

    @property
    def last(self) -> llm.ChatItem:
        return self.chat_ctx.items[-1]

    @property
    def user_text(self) -> str | None:
        """The caller's words, when this request answers a caller turn."""
        item = self.last
        if item.type == "message" and item.role == "user":
            return item.text_content
        # a routing hint or other system note added for this turn follows the user message
        if item.type == "message" and item.role == "system":
            previous = self.chat_ctx.items[-2] if len(self.chat_ctx.items) > 1 else None
            if previous is not None and previous.type == "message" and previous.role == "user":
                return previous.text_content
        return None

    @property
    def instruction(self) -> str | None:
        """The system text of `generate_reply(instructions=...)` or a note added for a turn."""
        item = self.last
        if item.type == "message" and item.role in ("system", "developer"):
            return item.text_content
        return None

    @property
    def tool_output(self) -> llm.FunctionCallOutput | None:
        item = self.last
        return item if item.type == "function_call_output" else None

    @property
    def agent(self) -> str:
        """Which persona is asking, from its tools."""
        for persona, tool in (
            ("reception", "identify_caller"),
            ("sales", "create_quote"),
            ("complaints", "open_ticket"),
        ):
            if tool in self.tools:
                return persona
        return "unknown"

    @property
    def system_text(self) -> str:
        return "\n".join(
            item.text_content or ""
            for item in self.chat_ctx.items
            if item.type == "message" and item.role in ("system", "developer")
        )

    def messages(self, role: str) -> list[str]:
        return [
            item.text_content or ""
            for item in self.chat_ctx.items
            if item.type == "message" and item.role == role
        ]


Responder = Callable[[Request], "Reply | str | None"]


class ScriptedLLM(llm.LLM):
    def __init__(self, responder: Responder) -> None:
        super().__init__()
        self._responder = responder
        self.requests: list[Request] = []
        self._ids = itertools.count(1)

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "tests"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: Any = NOT_GIVEN,
        tool_choice: Any = NOT_GIVEN,
        extra_kwargs: Any = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _ScriptedStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )

    def respond(self, request: Request) -> Reply:
        self.requests.append(request)
        reply = self._responder(request)
        if reply is None:
            return Reply()
        if isinstance(reply, str):
            return Reply(text=reply)
        return reply

    def next_id(self) -> int:
        return next(self._ids)


class _ScriptedStream(llm.LLMStream):
    _llm: ScriptedLLM

    async def _run(self) -> None:
        names = [tool.info.name for tool in self._tools if hasattr(tool, "info")]
        reply = self._llm.respond(Request(chat_ctx=self._chat_ctx.copy(), tools=names))
        chunk_id = f"chunk_{self._llm.next_id()}"
        for start in range(0, len(reply.text), 16):
            self._event_ch.send_nowait(
                ChatChunk(
                    id=chunk_id,
                    delta=ChoiceDelta(role="assistant", content=reply.text[start : start + 16]),
                )
            )
        if reply.calls:
            calls = [
                FunctionToolCall(
                    name=name,
                    arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
                    call_id=f"call_{self._llm.next_id()}",
                )
                for name, arguments in reply.calls
            ]
            self._event_ch.send_nowait(
                ChatChunk(id=chunk_id, delta=ChoiceDelta(role="assistant", tool_calls=calls))
            )
