"""Scripted chat models and small helpers that build real Deep Agents graphs without any network.

Shared by the tests and by the scripts they run in separate processes, so every process builds
the same agent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

Turn = AIMessage | Callable[[list[BaseMessage]], AIMessage]


class Effects:
    """A file of side effects, one line each, shared with other processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []


class Gauge:
    """Counts how many model calls run at once, and the most that ever did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.total = 0

    def __enter__(self) -> Gauge:
        with self._lock:
            self.active += 1
            self.total += 1
            self.peak = max(self.peak, self.active)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.active -= 1


class ScriptedChatModel(BaseChatModel):
    """Replies from a script: turn *i* answers a conversation that already holds *i* AI
    messages, so the reply depends only on the conversation (any process gets the same)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    turns: list[Any]
    delay: float = 0.0
    gauge: Gauge | None = None
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        self.seen.append(list(messages))
        answered = sum(isinstance(m, AIMessage) for m in messages)
        if answered >= len(self.turns):
            raise AssertionError(f"the script has {len(self.turns)} turns; turn {answered} was asked for")
        turn = self.turns[answered]
        message = turn(messages) if callable(turn) else turn.model_copy()
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        with self.gauge or Gauge():
            time.sleep(self.delay)
            return self._reply(messages)

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:
        with self.gauge or Gauge():
            await asyncio.sleep(self.delay)
            return self._reply(messages)


def eval_turn(*codes: str, prefix: str = "call") -> AIMessage:
    """An AI message calling ``eval`` once per program (several: in parallel)."""
    calls = [{"name": "eval", "args": {"code": code}, "id": f"{prefix}-{i}", "type": "tool_call"}
             for i, code in enumerate(codes)]
    return AIMessage(content="", tool_calls=calls)


def final(text: str = "done") -> AIMessage:
    return AIMessage(content=text)


def echo_answer(messages: list[BaseMessage]) -> AIMessage:
    """A subagent's reply: its task, answered."""
    return AIMessage(content=f"answer to: {messages[-1].content}")


def json_answer(payload: Any) -> Callable[[list[BaseMessage]], AIMessage]:
    return lambda messages: AIMessage(content=json.dumps(payload))


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def thread(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


def last_tool_content(state: dict[str, Any]) -> str:
    return str(tool_messages(state)[-1].content)
