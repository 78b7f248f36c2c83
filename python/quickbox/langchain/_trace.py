"""The ``eval`` tool's own run under a ``TracePolicy``: tracers record the processed inputs (the
program) and outputs (its result); every other callback handler (the caller's streams, its own
handlers) and every child run (``tools.*`` calls, subagents) see the real ones.

``BaseTool.run`` sends one ``on_tool_start``/``on_tool_end`` to all of a run's handlers, so the
policy is applied per handler: for this run only, each tracer is replaced in the run's own
handlers by a *twin*, the same tracer object state seen through a subclass whose tool-event
methods process the payload first. The run's inheritable handlers (what child runs get) keep
the tracer itself. The twin is an instance of the tracer's own class, so LangChain still sees a
``LangChainTracer`` among the handlers and does not add a second one when tracing is switched on
by environment or ``tracing_v2_enabled``.

"Tracer" means what LangGraph applies node trace policies to: a ``BaseTracer`` that is not a
stream handler (``astream_log`` is a tracer but feeds the caller's own stream).
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler, CallbackManager, Callbacks
from langchain_core.tools import StructuredTool
from langchain_core.tracers.base import BaseTracer
from langgraph.types import TracePolicy
from pydantic import Field

# The marker class of callback handlers that feed a caller's own stream; LangGraph exempts the
# same class from node trace policies (langgraph/_internal/_runnable.py, _is_stream_handler).
from langchain_core.tracers._streaming import _StreamingCallbackHandler

logger = logging.getLogger("quickbox.langchain")


class PolicyTracedTool(StructuredTool):
    """A ``StructuredTool`` whose own run is recorded by tracers under the policy that
    ``policy_source()`` returns when the run starts (None: recorded as any tool's run)."""

    policy_source: Any = Field(default=None, exclude=True)

    def run(self, tool_input: Any, verbose: bool | None = None, start_color: str | None = "green",
            color: str | None = "green", callbacks: Callbacks = None, **kwargs: Any) -> Any:
        return super().run(tool_input, verbose, start_color, color,
                           _with_twins(callbacks, self._policy(), CallbackManager), **kwargs)

    async def arun(self, tool_input: Any, verbose: bool | None = None, start_color: str | None = "green",
                   color: str | None = "green", callbacks: Callbacks = None, **kwargs: Any) -> Any:
        return await super().arun(tool_input, verbose, start_color, color,
                                  _with_twins(callbacks, self._policy(), AsyncCallbackManager), **kwargs)

    def _policy(self) -> TracePolicy | None:
        policy: TracePolicy | None = self.policy_source() if self.policy_source is not None else None
        return policy


def _with_twins(callbacks: Callbacks, policy: TracePolicy | None,
                manager_class: type[CallbackManager] | type[AsyncCallbackManager]) -> Callbacks:
    """``callbacks`` resolved as ``BaseTool.run`` resolves them (tracers switched on by the
    environment included), with each tracer replaced by its twin in the handlers of the run
    about to start, not in those its child runs inherit."""
    if policy is None or (policy.process_inputs is None and policy.process_outputs is None):
        return callbacks
    manager = manager_class.configure(callbacks)
    handlers: list[BaseCallbackHandler] = []
    for handler in manager.handlers:
        if not _is_tracer(handler):
            handlers.append(handler)
        elif hasattr(handler, "__dict__"):
            handlers.append(_twin(handler, policy))
        # else: a tracer whose state cannot be shared misses this run rather than record it unprocessed
    manager.handlers = handlers
    return manager


def _is_tracer(handler: BaseCallbackHandler) -> bool:
    return isinstance(handler, BaseTracer) and _StreamingCallbackHandler not in type(handler).__mro__


def _twin(tracer: BaseCallbackHandler, policy: TracePolicy) -> BaseCallbackHandler:
    tracer_class: Any = type(tracer)
    try:
        cls = _twin_class(tracer_class, policy)
    except TypeError:  # a processor that cannot be hashed: the class is made for this run only
        cls = _twin_class.__wrapped__(tracer_class, policy)
    twin: BaseCallbackHandler = object.__new__(cls)
    twin.__dict__ = tracer.__dict__  # the very same state: runs, ids and settings stay shared
    return twin


@functools.lru_cache(maxsize=64)
def _twin_class(tracer_class: Any, policy: TracePolicy) -> type[BaseCallbackHandler]:

    def start_arguments(input_str: str, inputs: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        recorded = _processed(policy.process_inputs, inputs if inputs is not None else input_str, "inputs")
        return str(recorded), recorded if isinstance(recorded, dict) else None

    if inspect.iscoroutinefunction(tracer_class.on_tool_start):
        async def aon_tool_start(self: Any, serialized: dict[str, Any], input_str: str, *,
                                 inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
            text, recorded = start_arguments(input_str, inputs)
            return await super(cls, self).on_tool_start(serialized, text, inputs=recorded, **kwargs)

        async def aon_tool_end(self: Any, output: Any, **kwargs: Any) -> Any:
            return await super(cls, self).on_tool_end(_processed(policy.process_outputs, output, "outputs"),
                                                      **kwargs)
        methods: dict[str, Any] = {"on_tool_start": aon_tool_start, "on_tool_end": aon_tool_end}
    else:
        def on_tool_start(self: Any, serialized: dict[str, Any], input_str: str, *,
                          inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
            text, recorded = start_arguments(input_str, inputs)
            return super(cls, self).on_tool_start(serialized, text, inputs=recorded, **kwargs)

        def on_tool_end(self: Any, output: Any, **kwargs: Any) -> Any:
            return super(cls, self).on_tool_end(_processed(policy.process_outputs, output, "outputs"), **kwargs)
        methods = {"on_tool_start": on_tool_start, "on_tool_end": on_tool_end}

    cls: type[BaseCallbackHandler] = types.new_class(
        f"{tracer_class.__name__}UnderTracePolicy", (tracer_class,), exec_body=lambda body: body.update(methods))
    return cls


def _processed(process: Callable[[Any], Any] | None, value: Any, what: str) -> Any:
    """``value`` as the policy records it. A processor that fails records nothing (``{}``): the
    policy exists to keep the payload out of traces, so its failure must not let it in."""
    if process is None:
        return value
    try:
        return process(value)
    except Exception:
        logger.exception("quickbox: trace_policy.process_%s raised; the eval run records {} instead", what)
        return {}
