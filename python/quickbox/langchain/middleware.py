"""``CodeInterpreterMiddleware``: a JavaScript interpreter tool for LangChain / Deep Agents agents."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, NotRequired, TypeVar

from langchain.agents.middleware.types import (
    AgentMiddleware,
    AgentState,
    ModelRequest,
    ModelResponse,
    PrivateStateAttr,
    hook_config,
)
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langchain_core.callbacks.manager import adispatch_custom_event, dispatch_custom_event
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolRuntime
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import Command, TracePolicy, interrupt, omit_payload
from pydantic import BaseModel, Field, create_model

import quickbox

from . import _claims, _ptc
from ._agent import AgentBeingBuilt, agent_being_built
from ._format import render
from ._pause import ANSWER, CLAIM, Gates, blocked_of, build_request, merge_pauses, response_schema, split_decisions
from ._prompt import Mode, PromptSettings, code_argument_description, eval_tool_description, system_prompt
from ._graph import checkpointer_of
from ._repl import Session, Settings, thread_id_of
from ._trace import PolicyTracedTool

logger = logging.getLogger("quickbox.langchain")

_MiB = 1024 * 1024
VM_STATE_KEY = "_quickbox_vm"
PAUSES_KEY = "_quickbox_pauses"
T = TypeVar("T")

_HOOKS_ONLY_TRACE_POLICY = TracePolicy(process_inputs=omit_payload)
"""The default policy, applied to the hook spans only: the ``eval`` run is traced in full unless
a policy is set (identity, not equality: setting an equal policy is asking for it)."""


class _Unset:
    """An argument left out (langchain-quickjs refuses an explicit None where this is the default)."""

    def __repr__(self) -> str:
        return "<not given>"


_UNSET = _Unset()


def _latest(_: bytes | None, new: bytes | None) -> bytes | None:
    """Two ``eval`` calls of one model turn each leave a VM; the later write is kept."""
    return new


class CodeInterpreterState(AgentState[Any]):
    """The middleware's private state: the interpreter's VM as a quickbox snapshot (a few KB:
    only what differs from the engine's base image), signed when a key is configured."""

    _quickbox_vm: NotRequired[Annotated[bytes | None, PrivateStateAttr, _latest]]
    _quickbox_pauses: NotRequired[Annotated[dict[str, Any], PrivateStateAttr, merge_pauses]]


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
        pause_grace: When the program waits for a person and other calls are still running, how
            long (seconds) to wait for one of them to finish before pausing anyway: the calls
            still running are stopped and start again when the program continues (a subagent
            from its checkpoint); finished calls never run again. Default 10.
        trace_policy: How tracers record the middleware's hook spans and the ``eval`` tool's own
            run (LangGraph ``TracePolicy``). Default, as in langchain-quickjs: hook spans omit
            their inputs (``TracePolicy(process_inputs=omit_payload)``) and the ``eval`` run records
            the program and its result. A policy given here (or set as ``trace_policy`` on the
            middleware or a subclass) applies to both, e.g.
            ``TracePolicy(process_inputs=omit_payload, process_outputs=omit_payload)`` keeps
            programs and results out of those runs.
        network: A ``quickbox.Network``: the program gets ``fetch()`` under that policy, with its
            secrets attached by the host, and the system prompt tells the model what it may reach.
            A request matching its ``approve`` rules (or any unsafe method, with
            ``approve_unsafe_methods``) pauses the program for review like a gated tool: the
            reviewer sees the method, URL, headers and body (never a secret) and may ``approve``
            or ``reject`` it. None: no network.
    """

    state_schema = CodeInterpreterState
    trace_policy: TracePolicy | None = _HOOKS_ONLY_TRACE_POLICY
    """The hooks' spans leave out their input (the agent's state, which holds the interpreter's
    VM and any paused program); ``trace_policy=`` replaces this, for the ``eval`` run too."""

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
        max_subagent_concurrency: int | _Unset = _UNSET,
        pause_grace: float = 10.0,
        trace_policy: TracePolicy | None = None,
        network: quickbox.Network | None = None,
    ) -> None:
        super().__init__()
        mode = mode or "thread"
        if mode not in ("thread", "turn", "call"):
            raise ValueError(f"mode must be one of 'thread', 'turn', 'call', got {mode!r}")
        concurrency = _concurrency(max_concurrent_subagents, max_subagent_concurrency)
        _positive("max_ptc_calls", max_ptc_calls)
        _positive("max_subagent_calls", max_subagent_calls)
        _positive("max_snapshot_bytes", max_snapshot_bytes)
        _positive("max_result_chars", max_result_chars, optional=False)
        if not isinstance(pause_grace, (int, float)) or pause_grace < 0:
            raise ValueError(f"pause_grace must be a number of seconds >= 0, got {pause_grace!r}")
        if wall_timeout is not None and wall_timeout <= 0:
            raise ValueError(f"wall_timeout must be positive or None, got {wall_timeout}")
        _ptc.check_option(ptc, own_tool_name=tool_name)
        if network is not None and not isinstance(network, quickbox.Network):
            raise TypeError(f"network must be a quickbox.Network, got {type(network).__name__}")
        self._network = network
        self._memory_limit = memory_limit
        self._timeout = timeout
        self._tool_name = tool_name
        self._max_result_chars = max_result_chars
        self._settings = Settings(
            tool_name=tool_name, mode=mode, max_ptc_calls=max_ptc_calls, wall_timeout=wall_timeout,
            capture_console=capture_console, subagents=subagents, max_concurrent_subagents=concurrency,
            max_subagent_calls=max_subagent_calls,
            max_snapshot_bytes=memory_limit if max_snapshot_bytes is None else max_snapshot_bytes,
            pause_grace=float(pause_grace),
            signing_key=_key_bytes(snapshot_signing_key), ptc=ptc, gates=Gates(interrupt_on))
        self._prompt_settings = PromptSettings(tool_name, mode, timeout, memory_limit, wall_timeout, max_ptc_calls,
                                               concurrency, max_subagent_calls, network)
        if trace_policy is not None:
            self.trace_policy = trace_policy
        self._engine: quickbox.Runtime | None = None
        self._lock = threading.Lock()
        self._prompts: dict[tuple[Any, ...], str] = {}
        self._own_gates = self._settings.gates
        self._checked: frozenset[str] | None = None
        self._tools: list[BaseTool] = [self._build_tool()]

    @property
    def tools(self) -> Sequence[BaseTool]:
        """The ``eval`` tool. ``create_agent`` reads this while it builds the agent; that is when
        the middleware checks ``ptc`` and ``interrupt_on`` against the agent's tools and adopts
        the agent's own human-in-the-loop gates for calls from JavaScript."""
        agent = agent_being_built(self)
        if agent is not None:
            self._adopt(agent)
        return self._tools

    @tools.setter
    def tools(self, value: Sequence[BaseTool]) -> None:
        self._tools = list(value)

    def _adopt(self, agent: AgentBeingBuilt) -> None:
        self._check_names(agent.tool_names)
        gates = self._own_gates.with_agent_gates(Gates(agent.interrupt_on))
        self._settings = dataclasses.replace(self._settings, gates=gates)
        self._prompts.clear()
        self._checked = agent.tool_names

    def _check_names(self, tool_names: frozenset[str]) -> None:
        """Refuses ``ptc`` and ``interrupt_on`` names that match none of the agent's tools: a
        misspelt gate would otherwise let the tool run from JavaScript unreviewed."""
        problems = []
        unknown_ptc = sorted(n for n in _ptc.names(self._settings.ptc) if n not in tool_names)
        if unknown_ptc:
            problems.append(f"ptc names {unknown_ptc}")
        unknown_gates = self._own_gates.unknown_names(tool_names)
        if unknown_gates:
            problems.append(f"interrupt_on names {unknown_gates}")
        if problems:
            known = sorted(tool_names - {self._tool_name})
            raise ValueError(f"CodeInterpreterMiddleware: {' and '.join(problems)} match no tool of the agent; "
                             f"its tools are {known}")

    # ---- the tool ---------------------------------------------------------------------------

    def _build_tool(self) -> BaseTool:
        mode = self._settings.mode
        schema: type[BaseModel] = create_model(
            "EvalInput", code=(str, Field(description=code_argument_description(mode))))

        async def eval_async(code: str, runtime: ToolRuntime[Any, Any]) -> ToolMessage | Command[Any]:
            return await self._eval(code, runtime, blocking=False)

        def eval_blocking(code: str, runtime: ToolRuntime[Any, Any]) -> ToolMessage | Command[Any]:
            return _run_to_completion(self._eval(code, runtime, blocking=True))

        return PolicyTracedTool.from_function(
            name=self._tool_name, description=eval_tool_description(mode, network=self._network is not None),
            func=eval_blocking,
            coroutine=eval_async, args_schema=schema, infer_schema=False,
            metadata={"ls_code_input_language": "javascript"}, policy_source=self._eval_trace_policy)

    def _eval_trace_policy(self) -> TracePolicy | None:
        """The policy for the ``eval`` run: the one set on this middleware, none by default."""
        policy = self.trace_policy
        return None if policy is _HOOKS_ONLY_TRACE_POLICY else policy

    async def _eval(self, code: str, runtime: ToolRuntime[Any, Any], *, blocking: bool) -> ToolMessage | Command[Any]:
        config = ensure_config()  # this tool run's config: its callbacks make tool calls child runs
        available = frozenset(t.name for t in runtime.tools if isinstance(t, BaseTool))
        if self._checked is None or not available <= self._checked:
            self._check_names(available)  # an agent not built by create_agent: checked before anything runs
            self._checked = available
        state = runtime.state if isinstance(runtime.state, Mapping) else {}
        call_id = runtime.tool_call_id or ""
        pause = (state.get(PAUSES_KEY) or {}).get(call_id)
        session = Session(self._settings, self._runtime(), runtime, config, code, blocking=blocking)
        saved = state.get(VM_STATE_KEY)
        finished = await session.run(saved if isinstance(saved, bytes) else None, pause)
        message_id = _pause_message_id(call_id)
        resumed = _resume_metadata(pause)
        if resumed is not None:
            await _announce("quickbox_resume", resumed, config, blocking=blocking)
        if finished.pause is not None:
            waiting = len(build_request(finished.pause.blocked)["action_requests"])
            paused = {"eval_call": call_id, "snapshot_bytes": len(finished.pause.snapshot), "pending_calls": waiting,
                      "stopped_calls": sum(b.kind == "rerun" for b in finished.pause.blocked)}
            await _announce("quickbox_pause", paused, config, blocking=blocking)
            placeholder = ToolMessage(content=f"[paused: the program waits for a person to review {waiting} "
                                              "call(s)]", id=message_id, tool_call_id=call_id, name=self._tool_name,
                                      response_metadata={"quickbox": {"pause": paused}})
            record = finished.pause.to_state(session._pause_key())
            return Command(update={"messages": [placeholder], PAUSES_KEY: {call_id: record}})
        assert finished.outcome is not None
        message = ToolMessage(content=render(finished.outcome, max_chars=self._max_result_chars),
                              tool_call_id=call_id, name=self._tool_name,
                              id=message_id if pause is not None else None,  # replaces the placeholder
                              status="error" if finished.outcome.error_type else "success",
                              response_metadata={"quickbox": {"resume": resumed}} if resumed else {})
        update: dict[str, Any] = {"messages": [message]}
        if pause is not None:
            update[PAUSES_KEY] = {call_id: None}
        if finished.persist:
            update[VM_STATE_KEY] = finished.vm
        return Command(update=update) if len(update) > 1 else message

    def _runtime(self) -> quickbox.Runtime:
        with self._lock:
            if self._engine is None:
                self._engine = quickbox.Runtime(memory_limit=self._memory_limit, timeout=self._timeout,
                                                console_limit=max(16 * 1024, 4 * self._max_result_chars),
                                                network=self._network)
            return self._engine

    # ---- hooks ------------------------------------------------------------------------------------

    def before_agent(self, state: CodeInterpreterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """A new turn: abandons pauses nobody resumed, and in ``turn`` mode drops the VM."""
        update = _abandon_pauses(state)
        if self._settings.mode == "turn" and state.get(VM_STATE_KEY) is not None:
            update[VM_STATE_KEY] = None
        return update or None

    async def abefore_agent(self, state: CodeInterpreterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        return self.before_agent(state, runtime)

    @hook_config(can_jump_to=["tools"])
    def before_model(self, state: CodeInterpreterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """The step after an ``eval`` paused: asks the reviewer about every waiting call (one
        interrupt), claims the pause for this run (another worker resuming the same thread at
        once fails its claim), writes the answers next to their records and goes back to the
        tools step, where each paused program continues. This step runs nothing else, so
        LangGraph running it again on resume repeats nothing."""
        answered = _ask_reviewer(state)
        if answered is None:
            return None
        config = ensure_config()
        for call_id, record in answered.items():
            _claimed(_claims.claim(checkpointer_of(config), _round_key(config, call_id, record), record[CLAIM]),
                     config, call_id)
        return {PAUSES_KEY: answered, "jump_to": "tools"}

    @hook_config(can_jump_to=["tools"])
    async def abefore_model(self, state: CodeInterpreterState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        answered = _ask_reviewer(state)
        if answered is None:
            return None
        config = ensure_config()
        for call_id, record in answered.items():
            _claimed(await _claims.aclaim(checkpointer_of(config), _round_key(config, call_id, record),
                                          record[CLAIM]), config, call_id)
        return {PAUSES_KEY: answered, "jump_to": "tools"}

    def wrap_tool_call(self, request: ToolCallRequest,
                       handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]]) -> ToolMessage | Command[Any]:
        done = self._finished_call(request)
        return done if done is not None else handler(request)

    async def awrap_tool_call(self, request: ToolCallRequest,
                              handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]]
                              ) -> ToolMessage | Command[Any]:
        done = self._finished_call(request)
        return done if done is not None else await handler(request)

    def _finished_call(self, request: ToolCallRequest) -> ToolMessage | None:
        """When the tools step runs again to continue paused programs, every other call of the
        model's message already has its answer: that answer is returned, the call is not made again."""
        state = request.state
        if not isinstance(state, Mapping):
            return None
        call_id = request.tool_call.get("id")
        pause = (state.get(PAUSES_KEY) or {}).get(call_id or "")
        if pause is not None and ANSWER in pause:
            return None
        return _answered(state.get("messages") or [], call_id)

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


def _resume_metadata(pause: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a continuation was told: the decision types, in order (never their messages or edits)."""
    if pause is None or ANSWER not in pause:
        return None
    decisions = (pause.get(ANSWER) or {}).get("decisions") or []
    return {"decisions": [str(d.get("type")) for d in decisions if isinstance(d, Mapping)],
            "snapshot_bytes": len(pause.get("snapshot") or b"")}


async def _announce(name: str, data: dict[str, Any], config: Any, *, blocking: bool) -> None:
    """A pause or resume as a custom event of the eval tool's run: tracers record it with the run."""
    if blocking:
        dispatch_custom_event(name, data, config=config)
    else:
        await adispatch_custom_event(name, data, config=config)


def _pause_message_id(call_id: str) -> str:
    """The id of an eval's tool message while it is paused; its final message replaces it."""
    return f"quickbox-eval-{call_id}"


def _pauses_in_call_order(state: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    pauses = state.get(PAUSES_KEY) or {}
    last_ai = next((m for m in reversed(state.get("messages") or []) if isinstance(m, AIMessage)), None)
    order = [call["id"] for call in (last_ai.tool_calls if last_ai is not None else [])]
    return sorted(pauses.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def _round_key(config: Mapping[str, Any], call_id: str, record: Mapping[str, Any]) -> str:
    return _claims.round_key(thread_id_of(config), call_id, bytes(record.get("snapshot") or b""))


def _claimed(ok: bool, config: Mapping[str, Any], call_id: str) -> None:
    if not ok:
        raise _claims.PauseClaimed(
            f"the paused program of eval call {call_id!r} in thread {thread_id_of(config)!r} was already resumed "
            "by another run (another worker resuming the same thread); this run did nothing")


def _ask_reviewer(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """Asks about every waiting call; the records with their answers and a fresh claim token."""
    waiting = [(call_id, record) for call_id, record in _pauses_in_call_order(state) if ANSWER not in record]
    if not waiting:
        return None
    per_call = [blocked_of(record) for _, record in waiting]
    everything = [item for blocked in per_call for item in blocked]
    response = interrupt(build_request(everything), response_schema=response_schema(everything, lambda _: None))
    decisions = split_decisions(everything, response)
    answers: dict[str, Any] = {}
    at = 0
    for (call_id, record), blocked in zip(waiting, per_call, strict=True):
        mine = [d for part in decisions[at:at + len(blocked)] for d in part]
        at += len(blocked)
        answers[call_id] = {**record, ANSWER: {"decisions": mine}, CLAIM: uuid.uuid4().hex}
    return answers


def _answered(messages: list[Any], call_id: str | None) -> ToolMessage | None:
    """The tool message that answers ``call_id`` after the model's latest message, if any."""
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return None
        if isinstance(message, ToolMessage) and message.tool_call_id == call_id:
            return message
    return None


def _abandon_pauses(state: Mapping[str, Any]) -> dict[str, Any]:
    """Pauses left when a new turn begins: their programs are dropped, and their tool messages say so."""
    pauses = state.get(PAUSES_KEY) or {}
    if not pauses:
        return {}
    for call_id in pauses:
        logger.info("quickbox: dropping the paused program of eval call %r: a new turn began without resuming it",
                    call_id)
    messages = [ToolMessage(content="[the program was paused for review and abandoned: a new turn began "
                                    "without resuming it]", id=_pause_message_id(call_id), tool_call_id=call_id,
                            status="error") for call_id in pauses]
    return {"messages": messages, PAUSES_KEY: dict.fromkeys(pauses)}


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


def _concurrency(value: int | None, alias: int | _Unset) -> int:
    for name, given in (("max_concurrent_subagents", value), ("max_subagent_concurrency", alias)):
        if given is not None and given is not _UNSET and (type(given) is not int or given < 1):
            raise ValueError(f"{name} must be a positive integer, got {given!r}")
    if alias is None:
        raise ValueError("max_subagent_concurrency must be a positive integer, got None (leave it out for the "
                         "default, 32)")
    if value is not None and isinstance(alias, int) and value != alias:
        raise ValueError(f"max_concurrent_subagents={value} and its alias max_subagent_concurrency={alias} disagree")
    return value if value is not None else alias if isinstance(alias, int) else 32


def _positive(name: str, value: int | None, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if type(value) is not int or value < 1:
        raise ValueError(f"{name} must be >= 1{' or None' if optional else ''} (a whole number), got {value!r}")


def _key_bytes(key: str | bytes | None) -> bytes | None:
    if key is None:
        return None
    if not isinstance(key, (str, bytes, bytearray)):  # bytes(12345) would be 12,345 zero bytes
        raise TypeError(f"snapshot_signing_key must be a str or bytes, got {type(key).__name__}")
    material = key.encode() if isinstance(key, str) else bytes(key)
    if not material:
        raise ValueError("snapshot_signing_key must be a non-empty str or bytes")
    return material
