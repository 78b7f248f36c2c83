"""The agent a middleware is being built into, read while ``create_agent`` collects middleware
tools (the one moment LangChain shows a middleware anything of its agent). Isolated here because
it depends on LangChain's ``create_agent`` keeping its ``tools`` and ``middleware`` arguments as
local variables while it reads ``middleware.tools`` (pinned version; the approval tests fail if
this stops working, and the middleware logs a warning when it cannot see the agent).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain.agents import factory
from langchain.agents.middleware.human_in_the_loop import HumanInTheLoopMiddleware
from langchain_core.tools import BaseTool

_CREATE_AGENT = factory.create_agent.__code__
_FRAMES_TO_SEARCH = 6


@dataclass(frozen=True)
class AgentBeingBuilt:
    """The tool names the agent will have, and its own human-in-the-loop configuration."""

    tool_names: frozenset[str]
    interrupt_on: Mapping[str, Any]


def agent_being_built(asking: object) -> AgentBeingBuilt | None:
    """When called (indirectly) from ``create_agent`` reading ``asking.tools``: what the agent
    holds; otherwise None."""
    frame = sys._getframe(1)
    for _ in range(_FRAMES_TO_SEARCH):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return None
        if frame.f_code is _CREATE_AGENT:
            local = frame.f_locals
            tools, middleware = list(local.get("tools") or []), list(local.get("middleware") or [])
            names = {_tool_name(t) for t in tools}
            names |= {_tool_name(t) for m in middleware if m is not asking for t in getattr(m, "tools", [])}
            gates: dict[str, Any] = {}
            for m in middleware:
                if isinstance(m, HumanInTheLoopMiddleware):
                    gates.update(m.interrupt_on)
            return AgentBeingBuilt(frozenset(n for n in names if n), gates)
    return None


def _tool_name(tool: Any) -> str:
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, Mapping):  # a provider's built-in tool
        return str(tool.get("name", ""))
    return str(getattr(tool, "__name__", ""))
