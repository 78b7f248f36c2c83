"""``CodeInterpreterMiddleware``: a JavaScript interpreter tool for LangChain / Deep Agents agents."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, NotRequired, TypeVar

from langchain.agents.middleware.types import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
    PrivateStateAttr,
)
from langchain_core.messages import SystemMessage, ToolMessage
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.prebuilt import ToolRuntime
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

import quickbox

from . import _pause, _ptc
from ._format import render
from ._pause import Gates
from ._prompt import Mode, PromptSettings, code_argument_description, eval_tool_description, system_prompt
from ._repl import Session, Settings, thread_id_of

logger = logging.getLogger("quickbox.langchain")

_MiB = 1024 * 1024
VM_STATE_KEY = "_quickbox_vm"
T = TypeVar("T")


def _latest(_: bytes | None, new: bytes | None) -> bytes | None:
    """Two ``eval`` calls of one model turn each leave a VM; the later write is kept."""
    return new


class CodeInterpreterState(AgentState[Any]):
    """The middleware's private state: the interpreter's VM as a quickbox snapshot (a few KB:
    only what differs from the engine's base image), signed when a key is configured."""

    _quickbox_vm: NotRequired[Annotated[bytes | None, PrivateStateAttr, _latest]]


class CodeInterpreterMiddleware(AgentMiddleware[CodeInterpreterState, Any, Any]):
    """Gives the agent an ``eval`` tool that runs JavaScript in a quickbox sandbox.

    Accepts the keyword arguments of ``langchain_quickjs.CodeInterpreterMiddleware`` with the
    same meaning and defaults, so an agent switches by changing its import:

    Args:
        memory_limit: Bytes of memory the interpreter may use. Default 64 MiB.
        timeout: CPU seconds one ``eval`` may use. Time spent waiting on tools is not CPU time;
            ``wall_timeout`` bounds that. Default 5.
        max_ptc_calls: ``tools.*`` calls allowed in one ``eval``; further calls reject with
            ``PTCCallBudgetExceeded``. None disables the budget. Default 256.
        tool_name: The tool's name. Default ``"eval"``.
        max_result_chars: The stdout, result and error blocks are each cut to this many
            characters. Default 4000.
        capture_console: Return ``console.*`` output in ``<stdout>``. Default True.
        subagents: Offer ``task({description, subagentType, responseSchema?})`` when the agent
            has Deep Agents' ``task`` tool. Default True.
        max_concurrent_subagents: Subagents running at once per ``eval``; more dispatches wait
            their turn. Default 32. ``max_subagent_concurrency`` is accepted as an alias.
        max_subagent_calls: ``task()`` dispatches allowed per ``eval``; None: no cap.
        ptc: Tools offered to JavaScript as ``tools.<camelCaseName>(input)``: tool names
            (matched against the agent's tools) and/or tool objects. None: none.
        mode: ``"thread"`` (the VM persists across calls and turns), ``"turn"`` (across the
            calls of one turn) or ``"call"`` (every call starts fresh). Default ``"thread"``.
        max_snapshot_bytes: Largest VM snapshot kept in state (or in a pause record). Default
            ``memory_limit``.
        snapshot_signing_key: HMAC key. When set, VM snapshots in state are signed and bound to
            their thread, pause records too; anything tampered with or from another thread is
            refused (logged) and never executed.
        interrupt_on: Calls from JavaScript that need a person's approval, in the form of
            ``create_deep_agent(interrupt_on=...)``: tool names, ``"task"`` (every dispatch) or
            ``"task:<subagentType>"`` mapped to True or ``{"allowed_decisions": [...],
            "description": ..., "when": ...}``. The program pauses durably (see the package
            documentation).
        wall_timeout: Seconds one ``eval`` may take in total, waiting on tools and subagents
            included (per run: the time paused for a person does not count). None: no limit.
    """

    state_schema = CodeInterpreterState

    def __init__(
        self,
        *,
        memory_limit: int = 64 * _MiB,
        timeout: float = 5.0,
        max_ptc_calls: int | None = 256,
        tool_name: str = "eval",
        max_result_chars: int = 4000,
        capture_console: bool = True,
        subagents: bool = True,
        max_concurrent_subagents: int | None = None,
        ptc: _ptc.PTCOption | None = None,
        mode: Mode | None = None,
        max_snapshot_bytes: int | None = None,
        snapshot_signing_key: str | bytes | None = None,
        interrupt_on: Mapping[str, Any] | None = None,
        max_subagent_calls: int | None = None,
        wall_timeout: float | None = None,
        max_subagent_concurrency: int | None = None,
    ) -> None:
        super().__init__()
        mode = mode or "thread"
        if mode not in ("thread", "turn", "call"):
            raise ValueError(f"mode must be 'thread', 'turn' or 'call', got {mode!r}")
        concurrency = _concurrency(max_concurrent_subagents, max_subagent_concurrency)
        _positive("max_ptc_calls", max_ptc_calls)
        _positive("max_subagent_calls", max_subagent_calls)
        _positive("max_snapshot_bytes", max_snapshot_bytes)
        _positive("max_result_chars", max_result_chars)
        if wall_timeout is not None and wall_timeout <= 0:
            raise ValueError(f"wall_timeout must be positive or None, got {wall_timeout}")
        _ptc.check_option(ptc, own_tool_name=tool_name)
        self._memory_limit = memory_limit
        self._timeout = timeout
        self._tool_name = tool_name
        self._max_result_chars = max_result_chars
        self._settings = Settings(
            tool_name=tool_name, mode=mode, max_ptc_calls=max_ptc_calls, wall_timeout=wall_timeout,
            capture_console=capture_console, subagents=subagents, max_concurrent_subagents=concurrency,
            max_subagent_calls=max_subagent_calls,
            max_snapshot_bytes=memory_limit if max_snapshot_bytes is None else max_snapshot_bytes,
            signing_key=_key_bytes(snapshot_signing_key), ptc=ptc, gates=Gates(interrupt_on))
        self._prompt_settings = PromptSettings(tool_name, mode, timeout, memory_limit, wall_timeout, max_ptc_calls,
                                               concurrency, max_subagent_calls)
        self._engine: quickbox.Runtime | None = None
        self._lock = threading.Lock()
        self._fallback_store: InMemoryStore | None = None
        self._prompts: dict[tuple[Any, ...], str] = {}
        self.tools: list[BaseTool] = [self._build_tool()]

    # ---- the tool ---------------------------------------------------------------------------

    def _build_tool(self) -> BaseTool:
        mode = self._settings.mode
        schema: type[BaseModel] = create_model(
            "EvalInput", code=(str, Field(description=code_argument_description(mode))))

        async def eval_async(code: str, runtime: ToolRuntime[Any, Any]) -> ToolMessage | Command[Any]:
            return await self._eval(code, runtime, blocking=False)

        def eval_blocking(code: str, runtime: ToolRuntime[Any, Any]) -> ToolMessage | Command[Any]:
            return _run_to_completion(self._eval(code, runtime, blocking=True))

        return StructuredTool.from_function(
            name=self._tool_name, description=eval_tool_description(mode), func=eval_blocking,
            coroutine=eval_async, args_schema=schema, infer_schema=False,
            metadata={"ls_code_input_language": "javascript"})

    async def _eval(self, code: str, runtime: ToolRuntime[Any, Any], *, blocking: bool) -> ToolMessage | Command[Any]:
        config = ensure_config()  # this tool run's config: its callbacks make tool calls child runs
        store = runtime.store if runtime.store is not None else self._memory_store()
        session = Session(self._settings, self._runtime(), runtime, config, store, code,
                          durable=runtime.store is not None, blocking=blocking)
        saved = runtime.state.get(VM_STATE_KEY) if isinstance(runtime.state, Mapping) else None
        finished = await session.run(saved if isinstance(saved, bytes) else None)
        message = ToolMessage(content=render(finished.outcome, max_chars=self._max_result_chars),
                              tool_call_id=runtime.tool_call_id or "", name=self._tool_name,
                              status="error" if finished.outcome.error_type else "success")
        if not finished.persist:
            return message
        return Command(update={"messages": [message], VM_STATE_KEY: finished.vm})

    def _runtime(self) -> quickbox.Runtime:
        with self._lock:
            if self._engine is None:
                self._engine = quickbox.Runtime(memory_limit=self._memory_limit, timeout=self._timeout,
                                                console_limit=max(16 * 1024, 4 * self._max_result_chars))
            return self._engine

    def _memory_store(self) -> BaseStore:
        with self._lock:
            if self._fallback_store is None:
                self._fallback_store = InMemoryStore()
            return self._fallback_store

    # ---- hooks ------------------------------------------------------------------------------------

    def before_agent(self, state: CodeInterpreterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """A new turn: drops pause records nobody resumed, and in ``turn`` mode the VM."""
        self._drop_orphans(runtime)
        return self._turn_reset(state)

    async def abefore_agent(self, state: CodeInterpreterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        await asyncio.to_thread(contextvars.copy_context().run, self._drop_orphans, runtime)
        return self._turn_reset(state)

    def _turn_reset(self, state: CodeInterpreterState) -> dict[str, Any] | None:
        if self._settings.mode == "turn" and state.get(VM_STATE_KEY) is not None:
            return {VM_STATE_KEY: None}
        return None

    def _drop_orphans(self, runtime: Runtime[Any]) -> None:
        """Only the outermost graph starts turns; a subagent starting must not touch the records
        of the parent it runs inside."""
        configurable = ensure_config().get("configurable") or {}
        if runtime.store is None or "|" in str(configurable.get("checkpoint_ns", "")):
            return
        thread_id = thread_id_of(ensure_config())
        for key in _pause.orphaned(runtime.store, thread_id):
            logger.info("quickbox: dropping the pause record of eval call %r in thread %r: a new turn began "
                        "without resuming it", key, thread_id)
            runtime.store.delete(_pause.namespace(thread_id), key)

    def wrap_model_call(self, request: ModelRequest[Any],
                        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]) -> Any:
        return handler(self._with_prompt(request))

    async def awrap_model_call(self, request: ModelRequest[Any],
                               handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]]) -> Any:
        return await handler(self._with_prompt(request))

    def _with_prompt(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        return request.override(system_message=_append(request.system_message, self._prompt_for(request.tools)))

    def _prompt_for(self, available: list[Any]) -> str:
        settings = self._settings
        tools = _ptc.select(available, settings.ptc, own_tool_name=settings.tool_name)
        subagents = settings.subagents and _ptc.find_task_tool(available) is not None
        key = (tuple(id(tool) for _, tool in tools), subagents)
        prompt = self._prompts.get(key)
        if prompt is None:
            gated = [js for js, tool in tools if settings.gates.for_tool(tool.name) is not None]
            prompt = system_prompt(self._prompt_settings, tools=tools, gated_tools=gated, subagents=subagents,
                                   gated_subagents=settings.gates.gated_subagents())
            if len(self._prompts) > 64:
                self._prompts.clear()
            self._prompts[key] = prompt
        return prompt


def _append(system: SystemMessage | None, text: str) -> SystemMessage:
    if system is None:
        return SystemMessage(content=text)
    if isinstance(system.content, str):
        return system.model_copy(update={"content": f"{system.content}\n\n{text}" if system.content else text})
    return system.model_copy(update={"content": [*system.content, {"type": "text", "text": text}]})


def _run_to_completion(work: Coroutine[Any, Any, T]) -> T:
    """Runs ``work`` for a synchronous caller, on a fresh event loop in this thread (or, when this
    thread already runs a loop, in a helper thread), keeping the caller's context variables: the
    graph's config is what ``interrupt()`` reads."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1, thread_name_prefix="quickbox-eval") as pool:
        return pool.submit(context.run, asyncio.run, work).result()


def _concurrency(value: int | None, alias: int | None) -> int:
    if value is not None and alias is not None and value != alias:
        raise ValueError(f"max_concurrent_subagents={value} and its alias max_subagent_concurrency={alias} disagree")
    chosen = value if value is not None else alias if alias is not None else 32
    if type(chosen) is not int or chosen < 1:
        raise ValueError(f"max_concurrent_subagents must be a positive integer, got {chosen!r}")
    return chosen


def _positive(name: str, value: int | None) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")


def _key_bytes(key: str | bytes | None) -> bytes | None:
    if key is None:
        return None
    material = key.encode() if isinstance(key, str) else bytes(key)
    if not material:
        raise ValueError("snapshot_signing_key must not be empty")
    return material
