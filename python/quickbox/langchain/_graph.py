"""The LangGraph internals calls made from JavaScript depend on (pinned versions; the subagent
pause tests fail if they change). Nothing else in the package touches LangGraph's private modules.

Within one step, LangGraph numbers ``interrupt()`` calls and nested graph runs in call order. A
tool or subagent run from JavaScript must not take numbers from the ``eval`` step's own
sequence, and a subagent must get the same checkpoint namespace each time its call runs. Each
call from JavaScript therefore runs with a scratchpad of its own: a private interrupt counter, no
resume value of the eval's, and subgraph numbers counted from a start derived from the engine's
call id (a subagent's graph is the first nested run of its call).

A paused program continues in a *later* tools step than the one that started it. A subagent that
paused is then run under the checkpoint namespace it first ran under, flagged as resuming (as
LangGraph flags subgraphs of a resumed step), with its answers in the resume map keyed by the
interrupt ids it raised; so it continues from its checkpoint instead of starting over.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import (
    CONFIG_KEY_CHECKPOINT_NS,
    CONFIG_KEY_CHECKPOINTER,
    CONFIG_KEY_RESUME_MAP,
    CONFIG_KEY_RESUMING,
    CONFIG_KEY_SCRATCHPAD,
)
from langgraph._internal._scratchpad import PregelScratchpad

# Subgraph numbers LangGraph itself hands out count up from 1 within a node; ours stay clear, and
# each call has room for this many nested graph runs before the next call's numbers.
_SUBGRAPH_NUMBER_BASE = 1 << 40
_SUBGRAPHS_PER_CALL = 1 << 16


def checkpointer_of(config: RunnableConfig) -> Any:
    """The checkpointer of the run this step belongs to (claims live in its database)."""
    return (config.get("configurable") or {}).get(CONFIG_KEY_CHECKPOINTER)


def checkpoint_ns(config: RunnableConfig) -> str:
    """The checkpoint namespace of the step running now (subgraphs keep their checkpoints under it)."""
    return str((config.get("configurable") or {}).get(CONFIG_KEY_CHECKPOINT_NS) or "")


def call_config(config: RunnableConfig, *, call_id: int, answers: Mapping[str, Any] | None = None,
                namespace: str | None = None, resuming: bool = False) -> RunnableConfig:
    """``config`` for one call made by the program (engine call id ``call_id``). ``namespace``:
    the checkpoint namespace a subagent first ran under; a paused program continues in a later
    step than the one that started it, and the subagent must find its checkpoints again there.
    ``resuming``: the subagent continues from its checkpoint (it paused, or was stopped while
    running), as LangGraph's subgraphs do when their parent step resumes."""
    configurable = dict(config.get("configurable") or {})
    if namespace:
        configurable[CONFIG_KEY_CHECKPOINT_NS] = namespace
    scratchpad = configurable.get(CONFIG_KEY_SCRATCHPAD)
    if isinstance(scratchpad, PregelScratchpad):
        configurable[CONFIG_KEY_SCRATCHPAD] = dataclasses.replace(
            scratchpad,
            interrupt_counter=itertools.count().__next__,
            resume=[],
            get_null_resume=_no_resume,
            subgraph_counter=itertools.count(_SUBGRAPH_NUMBER_BASE + call_id * _SUBGRAPHS_PER_CALL).__next__,
        )
    if answers:
        configurable[CONFIG_KEY_RESUME_MAP] = {**(configurable.get(CONFIG_KEY_RESUME_MAP) or {}), **answers}
    if answers or resuming:
        configurable[CONFIG_KEY_RESUMING] = True
    return {**config, "configurable": configurable}


def _no_resume(consume: bool = False) -> Any:
    return None
