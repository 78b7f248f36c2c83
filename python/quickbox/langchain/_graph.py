"""The two LangGraph internals durable pauses depend on (pinned versions; the pause tests fail
if they change).

Within one node, LangGraph numbers ``interrupt()`` calls and nested graph runs in call order. A
paused ``eval`` replays its earlier rounds by calling ``interrupt()`` again, so a tool or
subagent run from JavaScript must not take numbers from the eval's own sequence; and a subagent
must be found again under the same checkpoint namespace when the program resumes, although the
calls that finished before the pause are not repeated. Each call from JavaScript therefore runs
with a scratchpad of its own: a private interrupt counter, no resume value of the eval's, and
subgraph numbers counted from a start derived from the engine's call id (a subagent's graph is
the first nested run of its call, so it gets the same namespace every time). A resumed subagent
receives its answers through the resume map, keyed by the interrupt ids it raised.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import CONFIG_KEY_RESUME_MAP, CONFIG_KEY_SCRATCHPAD
from langgraph._internal._scratchpad import PregelScratchpad

# Subgraph numbers LangGraph itself hands out count up from 1 within a node; ours stay clear, and
# each call has room for this many nested graph runs before the next call's numbers.
_SUBGRAPH_NUMBER_BASE = 1 << 40
_SUBGRAPHS_PER_CALL = 1 << 16


def call_config(config: RunnableConfig, *, call_id: int, answers: Mapping[str, Any] | None = None) -> RunnableConfig:
    """``config`` for one call made by the program (engine call id ``call_id``)."""
    configurable = dict(config.get("configurable") or {})
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
    return {**config, "configurable": configurable}


def _no_resume(consume: bool = False) -> Any:
    return None
