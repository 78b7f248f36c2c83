"""Programmatic tool calling: which agent tools JavaScript sees as ``tools.<camelCase>``, and how
one call reaches the tool as a proper LangChain tool run.

A call runs the tool with the arguments JavaScript passed plus whatever the tool asks to have
injected (``ToolRuntime``, ``InjectedState``, ``InjectedStore``), built from the outer ``eval``
call's runtime with a child tool-call id, and with a config derived from the ``eval`` run's
callbacks, so each call shows up as a child run in tracing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeAlias

from langchain_core.tools import BaseTool, InjectedToolCallId
from langchain_core.tools.base import _is_injected_arg_type, get_all_basemodel_annotations
from langgraph.prebuilt import ToolRuntime
from langgraph.prebuilt.tool_node import _get_all_injected_args

import quickbox

from ._prompt import JS_IDENTIFIER, js_name

PTCOption: TypeAlias = list[str | BaseTool]
"""``ptc=``: tool names (matched against the agent's tools) and/or tool objects."""

TASK_TOOL_NAME = "task"


def check_option(ptc: PTCOption | None, *, own_tool_name: str) -> None:
    """Refuses what can never work, at construction time."""
    if ptc is None:
        return
    if not isinstance(ptc, list):
        raise TypeError(f"ptc must be a list of tool names and/or tools, got {type(ptc).__name__}")
    for entry in ptc:
        name = entry.name if isinstance(entry, BaseTool) else entry
        if not isinstance(name, str):
            raise TypeError(f"ptc entries must be tool names or BaseTool objects, got {type(entry).__name__}")
        if name == TASK_TOOL_NAME:
            raise ValueError("ptc cannot expose the subagent `task` tool: JavaScript reaches subagents "
                             "through the global task() (subagents=True); remove 'task' from ptc")
        if name == own_tool_name:
            raise ValueError(f"ptc cannot expose {own_tool_name!r}, the interpreter's own tool")
        if not JS_IDENTIFIER.fullmatch(js_name(name)):
            raise ValueError(f"tool {name!r} cannot be called from JavaScript: {js_name(name)!r} is not "
                             "a JavaScript identifier")


def names(ptc: PTCOption | None) -> list[str]:
    """The tool names ``ptc`` asks for (tool objects bring themselves)."""
    return [entry for entry in ptc or [] if isinstance(entry, str)]


def select(available: Sequence[Any], ptc: PTCOption | None, *, own_tool_name: str) -> list[tuple[str, BaseTool]]:
    """The (JavaScript name, tool) pairs exposed: tool objects from ``ptc`` first, then the
    agent's tools named in it; one tool per name."""
    if ptc is None:
        return []
    names = {entry for entry in ptc if isinstance(entry, str)}
    chosen = [entry for entry in ptc if isinstance(entry, BaseTool)]
    chosen += [tool for tool in available if isinstance(tool, BaseTool) and tool.name in names]
    exposed: dict[str, BaseTool] = {}
    for tool in chosen:
        if tool.name not in (own_tool_name, TASK_TOOL_NAME):
            exposed.setdefault(js_name(tool.name), tool)
    return list(exposed.items())


def find_task_tool(available: Sequence[Any]) -> BaseTool | None:
    """Deep Agents' subagent tool (``task(description, subagent_type)``), if the agent has one."""
    for tool in available:
        if isinstance(tool, BaseTool) and tool.name == TASK_TOOL_NAME:
            fields = set(getattr(tool.args_schema, "model_fields", {}) or tool.args)
            if {"description", "subagent_type"} <= fields:
                return tool
    return None


def tool_arguments(raw: Any) -> dict[str, Any]:
    """What JavaScript passed to ``tools.x(...)`` as tool arguments: an object as is (its
    ``undefined`` members dropped, so defaults apply); nothing as ``{}``; anything else under
    ``input``, so the tool's validation says what is wrong."""
    if raw is None or isinstance(raw, quickbox.Undefined):
        return {}
    cleaned = _without_undefined(raw)
    return cleaned if isinstance(cleaned, dict) else {"input": cleaned}


def _without_undefined(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_undefined(v) for k, v in value.items() if not isinstance(v, quickbox.Undefined)}
    if isinstance(value, list):
        return [None if isinstance(v, quickbox.Undefined) else _without_undefined(v) for v in value]
    return value


def tool_input(tool: BaseTool, args: dict[str, Any], runtime: ToolRuntime[Any, Any],
               child_id: str) -> dict[str, Any]:
    """The tool's input: ``args`` plus what it wants injected, as LangGraph's ToolNode does."""
    wanted = _get_all_injected_args(tool)
    full = dict(args)
    if wanted.runtime:
        full[wanted.runtime] = dataclasses.replace(runtime, tool_call_id=child_id)
    state = runtime.state
    for arg, field in (wanted.state or {}).items():
        if field is None:
            full[arg] = state
        else:
            full[arg] = state.get(field) if isinstance(state, dict) else getattr(state, field, None)
    if wanted.store and runtime.store is not None:
        full[wanted.store] = runtime.store
    if wants_tool_call_id(tool):
        return {"name": tool.name, "args": full, "id": child_id, "type": "tool_call"}
    return full


def wants_tool_call_id(tool: BaseTool) -> bool:
    """Tools with an ``InjectedToolCallId`` argument must be invoked as a tool call."""
    annotations = get_all_basemodel_annotations(tool.get_input_schema())
    return any(_is_injected_arg_type(t, injected_type=InjectedToolCallId) for t in annotations.values())
