"""One call of the ``eval`` tool: its VM, the functions bound to it, the calls it makes, and its
pauses.

Every function the program can call (``tools.*`` and ``task()``) is an *ask* function
(``ctx.ask``): the engine only records the call, and the session runs it on the graph's event loop
and answers it.
So the VM never waits on the loop, and each step of it (start, resume) runs in a worker thread:
a CPU-bound program does not stall other coroutines. Calls a person must release (gated tools
and dispatches, and a subagent that paused on its own) stay pending inside the VM. When the program can go no further without a person, the session
snapshots the suspended VM into a pause record, which the middleware keeps in graph state; the
step that continues it gets the record back with the reviewer's answer. See the package docstring.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from deepagents.middleware.subagents import SUBAGENT_RESPONSE_FORMAT_CONFIG_KEY
from langchain.agents.structured_output import AutoStrategy
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.prebuilt import ToolRuntime
from langgraph.prebuilt.tool_node import ToolCallRequest

import quickbox

from . import _claims, _ptc, _subagent
from ._format import Outcome, stringify, to_js
from ._graph import call_config, checkpoint_ns, checkpointer_of
from ._pause import (
    ANSWER,
    CLAIM,
    Blocked,
    Gate,
    Gates,
    PauseRecord,
    RecordRefused,
    derive_key,
    jsonable,
    program_hash,
    split_decisions,
)
from ._prompt import Mode, js_name
from ._source import redeclarable

_TYPESCRIPT = quickbox.SourceTransform.SOURCE_TS | quickbox.SourceTransform.STRIP_TYPESCRIPT

logger = logging.getLogger("quickbox.langchain")

class PTCCallBudgetExceeded(Exception):
    """The program made more ``tools.*`` calls than ``max_ptc_calls`` allows in one eval."""


class _WallTimeout(Exception):
    pass


class _SubagentPaused(Exception):
    def __init__(self, interrupts: list[dict[str, Any]], elapsed: float) -> None:
        super().__init__("the subagent paused for review")
        self.interrupts = interrupts
        self.elapsed = elapsed


@dataclass(frozen=True)
class Settings:
    """The middleware's configuration, as the session needs it."""

    tool_name: str
    mode: Mode
    max_ptc_calls: int | None
    wall_timeout: float | None
    capture_console: bool
    subagents: bool
    max_concurrent_subagents: int
    max_subagent_calls: int | None
    max_snapshot_bytes: int
    pause_grace: float
    signing_key: bytes | None
    ptc: _ptc.PTCOption | None
    gates: Gates


@dataclass
class Finished:
    """What one step of an eval leaves behind: either the outcome for the model and, unless
    ``mode="call"``, the VM to keep in state (None: start the next eval fresh); or, when the
    program waits for a person, its pause record."""

    outcome: Outcome | None
    persist: bool = False
    vm: bytes | None = None
    pause: PauseRecord | None = None


def thread_id_of(config: Mapping[str, Any]) -> str:
    return str((config.get("configurable") or {}).get("thread_id") or "")


class Session:
    """One ``eval`` tool call, from its first run to its end across any number of pauses."""

    def __init__(self, settings: Settings, engine: quickbox.Runtime, tool_runtime: ToolRuntime[Any, Any],
                 config: RunnableConfig, code: str, *, blocking: bool) -> None:
        self.settings = settings
        self.engine = engine
        self.config = config
        self.runtime = dataclasses.replace(tool_runtime, config=config)
        self.blocking = blocking
        self.thread_id = thread_id_of(config)
        self.eval_id = tool_runtime.tool_call_id or "eval"
        self.code = code
        self.tools = dict(_ptc.select(tool_runtime.tools, settings.ptc, own_tool_name=settings.tool_name))
        self.task_tool = _ptc.find_task_tool(tool_runtime.tools) if settings.subagents else None
        self.ctx: quickbox.Context | None = None
        self.running: dict[int, asyncio.Task[Any]] = {}
        self.started: dict[int, Blocked] = {}  # what each running call is, to start it again after a pause
        self.blocked: dict[int, Blocked] = {}
        self.settled = False
        self.ptc_calls = 0
        self.tool_errors: dict[str, BaseException] = {}  # message in JavaScript -> the tool's own exception
        self.stdout = ""
        self.stdout_dropped = 0
        self.deadline: float | None = None
        self.dispatches: dict[int, dict[str, Any]] = {}
        self.namespaces: dict[int, str] = {}  # a dispatched subagent's call id -> where its checkpoints are
        self._executor: ThreadPoolExecutor | None = None

    # ---- the whole call ------------------------------------------------------------------------

    async def run(self, saved_vm: bytes | None, pause: Mapping[str, Any] | None) -> Finished:
        """Runs the program (``pause`` None) or continues it from its pause record, whose
        reviewer's answer the interrupt step has added, until it ends or waits for a person."""
        loop = asyncio.get_running_loop()
        if self.settings.wall_timeout is not None:
            self.deadline = loop.time() + self.settings.wall_timeout
        try:
            if pause is None:
                outcome = await self._first_run(saved_vm)
            else:
                outcome = await self._continue(pause)
        except BaseException:  # a failure the graph must see
            self._close()
            raise
        finally:
            self._cancel_running()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
        if isinstance(outcome, PauseRecord):
            self._close()
            return Finished(None, pause=outcome)
        if pause is not None and outcome.error_type == "PauseRefused":
            return Finished(outcome, self.settings.mode != "call", saved_vm)
        return self._finish(outcome)

    def _pause_key(self) -> bytes | None:
        return derive_key(self.settings.signing_key, "pause-record", self.thread_id, self.eval_id)

    async def _first_run(self, saved_vm: bytes | None) -> Outcome | PauseRecord:
        self.ctx, capabilities = self._open_vm(saved_vm)
        self._bind(previous=capabilities)
        try:
            code = redeclarable(self.code)
            # Models write TypeScript (the prompt shows the tools as TypeScript signatures): the
            # types are stripped, keeping lines and columns. JavaScript is valid TypeScript.
            result = await self._vm_step(lambda ctx: ctx.start(code, transform_flags=_TYPESCRIPT))
        except Exception as error:  # noqa: BLE001 - every failure becomes an outcome
            return self._failure(error)
        return await self._drive(result)

    async def _continue(self, pause: Mapping[str, Any]) -> Outcome | PauseRecord:
        what = f"tool call {self.eval_id!r}"
        try:
            record = PauseRecord.from_state(pause, self._pause_key(), what=what)
            if record.code != program_hash(self.code):
                raise RecordRefused(f"the pause record of {what} belongs to another program")
        except RecordRefused as error:
            logger.warning("quickbox: %s; the paused program is dropped", error)
            return Outcome.error("PauseRefused", f"{error}; the paused program was dropped")
        try:
            self._resume_from(record)
        except quickbox.QuickJSError as error:
            logger.warning("quickbox: the paused program of eval call %r cannot be restored: %s", self.eval_id, error)
            return Outcome.error("PauseRefused", f"the paused program cannot be restored ({error}); it was dropped")
        await self._start_claim(record, pause)
        try:
            self._apply(record.blocked, pause.get(ANSWER))
        except ValueError as error:
            return self._failure(error)
        return await self._drive(None)

    async def _start_claim(self, record: PauseRecord, pause: Mapping[str, Any]) -> None:
        """Marks this round as continued before any approved call runs: once per round, across
        every worker sharing the checkpointer (see _claims)."""
        key = _claims.round_key(self.thread_id, self.eval_id, record.snapshot)
        owner, saver = str(pause.get(CLAIM, "")), checkpointer_of(self.config)
        started = _claims.start(saver, key, owner) if self.blocking else await _claims.astart(saver, key, owner)
        if not started:
            raise _claims.PauseClaimed(
                f"the paused program of eval call {self.eval_id!r} in thread {self.thread_id!r} was already "
                "continued by another run; this run did nothing. If that run's worker stopped before it "
                "finished, some approved calls may have run: release_pause_claims(checkpointer, thread_id) "
                "lets the next resume run them again")

    async def _drive(self, result: quickbox.EvalResult | None) -> Outcome | PauseRecord:
        """Runs until the program ends or waits only on calls a person must release."""
        try:
            result = await self._until_blocked(result)
            if result.done:
                return self._success(result.value)
            return self._pause_record()
        except GraphBubbleUp:
            raise
        except Exception as error:  # noqa: BLE001
            return self._failure(error)

    def _tool_named(self, name: str) -> BaseTool | None:
        if name == "task":
            return self.task_tool
        return next((tool for tool in self.tools.values() if tool.name == name), None)

    # ---- the VM ----------------------------------------------------------------------------------

    def _vm_key(self) -> bytes | None:
        return derive_key(self.settings.signing_key, "vm", self.thread_id)

    def _open_vm(self, saved: bytes | None) -> tuple[quickbox.Context, list[str]]:
        """The thread's VM (fresh when there is none, in ``call`` mode, or when the saved one is
        refused) and the host functions it was saved with."""
        if saved and self.settings.mode != "call":
            snapshot = quickbox.Snapshot.from_bytes(saved)
            try:
                ctx = self.engine.restore(snapshot, key=self._vm_key())
                return ctx, list(snapshot.info(key=self._vm_key())["capabilities"])
            except quickbox.QuickJSError as error:
                logger.warning("quickbox: the interpreter state saved in thread %r was refused (%s); "
                               "starting a fresh interpreter", self.thread_id, error)
        return self.engine.new_context(), []

    def _resume_from(self, record: PauseRecord) -> None:
        snapshot = quickbox.Snapshot.from_bytes(record.snapshot)
        self.ctx = self.engine.restore(snapshot)
        self._bind(previous=list(snapshot.info()["capabilities"]))
        self.ptc_calls = record.ptc_calls
        self.stdout, self.stdout_dropped = record.stdout, record.stdout_dropped

    def _bind(self, previous: list[str]) -> None:
        """Offers the current tools and ``task`` to the VM, and removes bindings a restored VM
        still has from tools that are gone."""
        ctx = self._vm()
        bound = []
        for js in self.tools:
            ctx.ask(f"tools.{js}")
            bound.append(f"tools.{js}")
        if self.task_tool is not None:
            ctx.ask("task", policy=quickbox.Policy(max_in_flight=self.settings.max_concurrent_subagents,
                                                  max_calls_per_eval=self.settings.max_subagent_calls))
            bound.append("task")
        if self.engine.network is not None:
            bound.append("fetch")  # granted by the runtime itself; a VM saved with it keeps it
        removals = [f"delete globalThis.tools?.[{json.dumps(name[6:])}];" if name.startswith("tools.")
                    else f"delete globalThis[{json.dumps(name)}];" for name in previous if name not in bound]
        if self.settings.ptc is not None:
            removals.append("globalThis.tools ??= {};")
        if removals and not ctx.suspended:  # a paused program keeps the bindings it was paused with
            ctx.eval(" ".join(removals) + " undefined")

    def _vm(self) -> quickbox.Context:
        assert self.ctx is not None
        return self.ctx

    def _close(self) -> None:
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None

    def _finish(self, outcome: Outcome) -> Finished:
        persist = self.settings.mode != "call"
        vm = None
        if persist and self.ctx is not None:
            try:
                if self.ctx.suspended:
                    self.ctx.abandon()
                snapshot = self.ctx.create_snapshot(key=self._vm_key()).to_bytes()
                if len(snapshot) <= self.settings.max_snapshot_bytes:
                    vm = snapshot
                else:
                    logger.warning("quickbox: the interpreter state of thread %r is %d bytes, more than "
                                   "max_snapshot_bytes=%d; it is not kept", self.thread_id, len(snapshot),
                                   self.settings.max_snapshot_bytes)
            except quickbox.QuickJSError as error:
                logger.warning("quickbox: could not save the interpreter state of thread %r: %s",
                               self.thread_id, error)
        self._close()
        return Finished(outcome, persist, vm)

    # ---- driving -------------------------------------------------------------------------------

    async def _vm_step(self, step: Callable[[quickbox.Context], Coroutine[Any, Any, quickbox.EvalResult]]
                       ) -> quickbox.EvalResult:
        """One start/resume of the engine, in a worker thread: every function the program calls
        is an ask function, so the step never waits on an event loop and runs to its end there
        (bounded by the CPU timeout). The graph's loop stays free meanwhile."""
        ctx = self._vm()
        return await asyncio.to_thread(_run_step, step, ctx)

    async def _until_blocked(self, result: quickbox.EvalResult | None) -> quickbox.EvalResult:
        """Runs the program, answering its calls as they finish, until it is done or
        waits only on calls a person must release."""
        ctx = self._vm()
        while True:
            if result is None or self.settled:
                self.settled = False
                result = await self._vm_step(lambda vm: vm.resume())
            if result.done:
                return result
            self._take(result.pending)
            if self.settled:
                continue
            if not self.running:
                return result
            if self.blocked and not await self._collect(within=self.settings.pause_grace):
                self._park_running()  # waiting for a person, and nothing else moved: pause now
                return result
            if not self.blocked:
                await self._collect()

    def _take(self, pending: list[quickbox.PendingCall]) -> None:
        for call in pending:
            if call.id in self.running or call.id in self.blocked:
                continue
            if call.name == "task":
                self._take_dispatch(call)
            elif call.name == "fetch" and call.needs_approval:
                self._take_fetch(call)
            else:
                self._take_tool_call(call)

    def _take_tool_call(self, call: quickbox.PendingCall) -> None:
        js = call.name.removeprefix("tools.")
        tool = self.tools.get(js)
        if tool is None:
            self._reject(call.id, f"{call.name} is not available in this turn", "Error")
            return
        try:
            self._count_tool_call(call.name)
        except PTCCallBudgetExceeded as error:
            self._reject(call.id, str(error), "PTCCallBudgetExceeded")
            return
        args = _ptc.tool_arguments(call.args[0] if call.args else None)
        child_id = f"{self.eval_id}:{call.name}#{call.id}"
        gate = self.settings.gates.for_tool(tool.name)
        if gate is None or not self._gate_applies(gate, tool, tool.name, args, child_id):
            self._start(call.id, self._run_tool(tool, args, child_id, call.id),
                        Blocked(call.id, "rerun", tool.name, jsonable(args)))
            return
        description = self._describe(gate, tool.name, args, child_id,
                                     f"The JavaScript program in `{self.settings.tool_name}` wants to call "
                                     f"this tool.\n\nTool: {tool.name}\nArgs: {json.dumps(jsonable(args))}")
        self.blocked[call.id] = Blocked(call.id, "tool", tool.name, jsonable(args), description, list(gate.allowed))

    def _take_dispatch(self, call: quickbox.PendingCall) -> None:
        try:
            dispatch = _subagent.parse_dispatch(call.args)
        except ValueError as error:
            self._reject(call.id, str(error), "TypeError")
            return
        child_id = self._dispatch_id(call.id)
        args = _subagent.review_args(dispatch)
        gate = self.settings.gates.for_subagent(dispatch["subagent_type"])
        if gate is None or not self._gate_applies(gate, self.task_tool, "task", args, child_id):
            self._start(call.id, self._dispatch(call.id, dispatch, None), self._rerun_dispatch(call.id, dispatch))
            return
        description = self._describe(gate, "task", args, child_id,
                                     f"The JavaScript program in `{self.settings.tool_name}` wants to start a "
                                     f"subagent.\n\nSubagent: {dispatch['subagent_type']}\n"
                                     f"Task: {dispatch['description']}")
        self.blocked[call.id] = Blocked(call.id, "task", "task", jsonable(args), description, list(gate.allowed),
                                        dispatch=jsonable(dispatch))

    def _take_fetch(self, call: quickbox.PendingCall) -> None:
        """A request the network policy holds for review (its ``approve`` rules). Only the engine
        can make it, after ``approve``, so the reviewer may approve or reject but not edit it."""
        request = _reviewable_request(call.args[0] if call.args else {})
        lines = [f"Request: {request.get('method', 'GET')} {request.get('url', '')}"]
        if request.get("body"):
            lines.append(f"Body: {request['body']}")
        description = (f"The JavaScript program in `{self.settings.tool_name}` wants to make this HTTP request "
                       "(the host adds any credentials after approval).\n\n" + "\n".join(lines))
        self.blocked[call.id] = Blocked(call.id, "fetch", "fetch", request, description, ["approve", "reject"])

    def _gate_applies(self, gate: Gate, tool: BaseTool | None, name: str, args: dict[str, Any], child_id: str) -> bool:
        if gate.when is None:
            return True
        request = ToolCallRequest(tool_call={"name": name, "args": args, "id": child_id, "type": "tool_call"},
                                  tool=tool, state=self.runtime.state,
                                  runtime=dataclasses.replace(self.runtime, tool_call_id=child_id))
        return bool(gate.when(request))

    def _describe(self, gate: Gate, name: str, args: dict[str, Any], child_id: str, default: str) -> str:
        if callable(gate.description):
            tool_call = {"name": name, "args": args, "id": child_id, "type": "tool_call"}
            return str(gate.description(tool_call, self.runtime.state, self.runtime))
        return gate.description if isinstance(gate.description, str) else default

    def _start(self, call_id: int, work: Coroutine[Any, Any, Any], what: Blocked) -> None:
        self.running[call_id] = asyncio.ensure_future(work)
        self.started[call_id] = what

    def _park_running(self) -> None:
        """Stops the calls still running and keeps them in the pause, to start again when the
        program continues: one of them may be waiting, directly or not, on a call that waits
        for a person, and a pause must never hang. A finished call is never among them."""
        for call_id, task in self.running.items():
            task.cancel()
            what = self.started[call_id]
            self.blocked[call_id] = dataclasses.replace(
                what, kind="rerun", checkpoint_ns=self.namespaces.get(call_id, what.checkpoint_ns))
            logger.info("quickbox: eval call %r pauses while its call to %r is still running; that call is "
                        "stopped and starts again when the program continues", self.eval_id, what.name)
        self.running.clear()

    async def _collect(self, within: float | None = None) -> bool:
        """Waits for at least one running call (at most ``within`` seconds) and settles what
        finished; False when nothing finished in time."""
        remaining = None
        if self.deadline is not None:
            remaining = max(0.0, self.deadline - asyncio.get_running_loop().time())
        limit = remaining if within is None else within if remaining is None else min(within, remaining)
        done, _ = await asyncio.wait(self.running.values(), timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            if within is not None and (remaining is None or within < remaining):
                return False
            raise _WallTimeout
        for call_id in [i for i, task in self.running.items() if task.done()]:
            task = self.running.pop(call_id)
            error = task.exception()
            if isinstance(error, _SubagentPaused):
                self.blocked[call_id] = self._nested_pause(call_id, error)
            elif error is not None:
                message = f"{type(error).__name__}: {error}"
                self.tool_errors[message] = error
                self._reject(call_id, message, "HostError")
            else:
                self._resolve(call_id, task.result())
        return True

    def _nested_pause(self, call_id: int, paused: _SubagentPaused) -> Blocked:
        dispatch = self.dispatches[call_id]
        prefix = f"[subagent {dispatch['subagent_type']!r}, started by the JavaScript program] "
        return Blocked(call_id, "nested", "task", _subagent.review_args(dispatch), prefix,
                       dispatch=jsonable(dispatch), interrupts=paused.interrupts,
                       checkpoint_ns=self.namespaces.get(call_id, ""))

    def _resolve(self, call_id: int, value: Any) -> None:
        ctx = self._vm()
        try:
            ctx.answer(call_id, value)
        except quickbox.QuickJSError as error:
            ctx.answer(call_id, error=TypeError(f"the result cannot be passed to JavaScript: {error}"))
        self.settled = True

    def _reject(self, call_id: int, message: str, name: str) -> None:
        self._vm().answer(call_id, error=quickbox.JSError(name, message))
        self.settled = True

    def _cancel_running(self) -> None:
        for task in self.running.values():
            task.cancel()
        self.running.clear()

    # ---- decisions ---------------------------------------------------------------------------------

    def _apply(self, blocked: list[Blocked], response: Any) -> None:
        """Carries out the reviewer's decisions on the calls of the pause they answer."""
        self.blocked.clear()
        for item, decisions in zip(blocked, split_decisions(blocked, response), strict=True):
            if item.kind in ("nested", "rerun"):
                self._start_again(item, decisions)
                continue
            decision = decisions[0]
            kind = decision["type"]
            if item.kind == "fetch":
                self._decide_fetch(item, decision)
            elif kind == "reject":
                reason = decision.get("message")
                what = (f"the call to {item.name!r}" if item.kind == "tool"
                        else f"the dispatch of subagent {item.args.get('subagent_type')!r}")
                self._reject(item.call_id, f"the reviewer rejected {what}" + (f": {reason}" if reason else ""),
                             "Error")
            elif kind == "respond":
                self._resolve(item.call_id, decision.get("message"))
            else:
                args = dict(decision["edited_action"]["args"]) if kind == "edit" else item.args
                self._run_approved(item, args)

    def _decide_fetch(self, item: Blocked, decision: Mapping[str, Any]) -> None:
        ctx = self._vm()
        if decision["type"] == "approve":
            ctx.approve(item.call_id)  # the engine makes the request when the program resumes
        else:
            ctx.deny(item.call_id, decision.get("message") or "the reviewer rejected the request")
        self.settled = True

    def _run_approved(self, item: Blocked, args: dict[str, Any]) -> None:
        if item.kind == "task":
            try:
                dispatch = _subagent.dispatch_from(args) if args != item.args else dict(item.dispatch or {})
            except ValueError as error:
                self._reject(item.call_id, f"the reviewer's edit is not a valid dispatch: {error}", "TypeError")
                return
            self._start(item.call_id, self._dispatch(item.call_id, dispatch, None),
                        self._rerun_dispatch(item.call_id, dispatch))
            return
        self._start_tool(item.call_id, item.name, args)

    def _start_tool(self, call_id: int, name: str, args: dict[str, Any]) -> None:
        tool = self._tool_named(name)
        if tool is None:
            self._reject(call_id, f"tool {name!r} is not available any more", "Error")
            return
        child_id = f"{self.eval_id}:tools.{js_name(name)}#{call_id}"
        self._start(call_id, self._run_tool(tool, args, child_id, call_id), Blocked(call_id, "rerun", name, args))

    def _start_again(self, item: Blocked, decisions: list[dict[str, Any]]) -> None:
        """A subagent that paused (with its decisions) or a call stopped by a pause."""
        if item.name != "task":
            self._start_tool(item.call_id, item.name, item.args)
            return
        assert item.dispatch is not None
        if item.checkpoint_ns:
            self.namespaces[item.call_id] = item.checkpoint_ns
        answers = item.answers(decisions) if item.kind == "nested" else None
        self._start(item.call_id, self._dispatch(item.call_id, item.dispatch, answers, resuming=True),
                    self._rerun_dispatch(item.call_id, item.dispatch))

    def _rerun_dispatch(self, call_id: int, dispatch: Mapping[str, Any]) -> Blocked:
        return Blocked(call_id, "rerun", "task", _subagent.review_args(dict(dispatch)), dispatch=jsonable(dispatch))

    def _pause_record(self) -> PauseRecord | Outcome:
        ctx = self._vm()
        snapshot = ctx.create_snapshot().to_bytes()
        if len(snapshot) > self.settings.max_snapshot_bytes:
            ctx.abandon()
            return self._with_stdout(Outcome.error(
                "PauseFailed", f"the program waits for approval, but its state ({len(snapshot)} bytes) exceeds "
                f"max_snapshot_bytes ({self.settings.max_snapshot_bytes})"))
        blocked = sorted(self.blocked.values(), key=lambda b: b.call_id)
        stdout, dropped = self._stdout()
        return PauseRecord(code=program_hash(self.code), snapshot=snapshot, blocked=blocked,
                           ptc_calls=self.ptc_calls, stdout=stdout, stdout_dropped=dropped)

    # ---- calls -------------------------------------------------------------------------------------

    def _count_tool_call(self, name: str) -> None:
        limit = self.settings.max_ptc_calls
        if limit is not None and self.ptc_calls >= limit:
            raise PTCCallBudgetExceeded(f"PTC call budget exceeded (limit={limit}, attempted={self.ptc_calls + 1}, "
                                        f"function={name})")
        self.ptc_calls += 1

    async def _run_tool(self, tool: BaseTool, args: dict[str, Any], child_id: str, call_id: int) -> Any:
        config = call_config(self.config, call_id=call_id)
        runtime = dataclasses.replace(self.runtime, config=config)
        try:
            output = await self._invoke(tool, _ptc.tool_input(tool, args, runtime, child_id), config)
        except GraphInterrupt as error:
            raise RuntimeError(f"tool {tool.name!r} asked for human input (a LangGraph interrupt), which a call "
                               "from JavaScript cannot pause for; list the tool in interrupt_on instead") from error
        return to_js(output)

    async def _invoke(self, tool: BaseTool, tool_input: Any, config: RunnableConfig) -> Any:
        if not self.blocking or _async_only(tool):
            return await tool.ainvoke(tool_input, config)
        # Under a synchronous graph (agent.invoke) the tool runs synchronously too, in a worker
        # thread: sync checkpointers (SqliteSaver, PostgresSaver) only serve synchronous runs.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.settings.max_concurrent_subagents + 8,
                                                thread_name_prefix="quickbox-call")
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._executor, context.run, tool.invoke,
                                                                tool_input, config)

    def _dispatch_id(self, call_id: int) -> str:
        return f"{self.eval_id}:task#{call_id}"

    async def _dispatch(self, call_id: int, dispatch: dict[str, Any], answers: Mapping[str, Any] | None,
                        *, resuming: bool = False) -> Any:
        """Runs one subagent through Deep Agents' ``task`` tool and returns its answer."""
        assert self.task_tool is not None
        self.dispatches[call_id] = dispatch
        dispatch_id = self._dispatch_id(call_id)
        namespace = self.namespaces.setdefault(call_id, checkpoint_ns(self.config))
        config = call_config(self.config, call_id=call_id, answers=answers, namespace=namespace, resuming=resuming)
        schema = dispatch.get("response_schema")
        if schema is not None:  # Deep Agents' task tool compiles the subagent with this response format
            config = {**config, "configurable": {**config.get("configurable", {}),
                                                 SUBAGENT_RESPONSE_FORMAT_CONFIG_KEY: AutoStrategy(schema)}}
        runtime = dataclasses.replace(self.runtime, config=config, tool_call_id=dispatch_id)
        writer = self.runtime.stream_writer
        _subagent.emit(writer, _subagent.start_event(dispatch_id, self.eval_id, dispatch))
        started = time.monotonic()
        tool_input = {"description": dispatch["description"], "subagent_type": dispatch["subagent_type"],
                      "runtime": runtime}
        try:
            output = await self._invoke(self.task_tool, tool_input, config)
        except GraphInterrupt as paused:
            elapsed = time.monotonic() - started
            _subagent.emit(writer, _subagent.end_event(dispatch_id, self.eval_id, "paused", elapsed))
            interrupts = [{"id": i.id, "value": jsonable(i.value)} for i in paused.args[0]]
            raise _SubagentPaused(interrupts, elapsed) from None
        except Exception as error:
            _subagent.emit(writer, _subagent.end_event(dispatch_id, self.eval_id, "error",
                                                       time.monotonic() - started, str(error)))
            raise
        _subagent.emit(writer, _subagent.end_event(dispatch_id, self.eval_id, "complete", time.monotonic() - started))
        return _subagent.answer(to_js(output), parse_json=schema is not None)

    # ---- outcomes ------------------------------------------------------------------------------------

    def _stdout(self) -> tuple[str, int]:
        ctx = self.ctx
        if ctx is None or not self.settings.capture_console:
            return self.stdout, self.stdout_dropped
        lines = "\n".join(line.text for line in ctx.console)
        text = f"{self.stdout}\n{lines}" if self.stdout and lines else self.stdout + lines
        return text, self.stdout_dropped + ctx.console_dropped_bytes

    def _with_stdout(self, outcome: Outcome) -> Outcome:
        outcome.stdout, outcome.stdout_dropped = self._stdout()
        return outcome

    def _success(self, value: Any) -> Outcome:
        result = None if isinstance(value, quickbox.Undefined) else stringify(value)
        return self._with_stdout(Outcome(result=result))

    def _failure(self, error: BaseException) -> Outcome:
        return self._with_stdout(self._describe_failure(error))

    def _describe_failure(self, error: BaseException) -> Outcome:
        if isinstance(error, _WallTimeout):
            self._cancel_running()
            if self.ctx is not None and self.ctx.suspended:
                self.ctx.abandon()
            return Outcome.error("Timeout", f"wall-clock limit of {self.settings.wall_timeout:g} s exceeded "
                                 "(time spent waiting on tools and subagents counts)")
        if isinstance(error, PTCCallBudgetExceeded):
            return Outcome.error("PTCCallBudgetExceeded", str(error), _stack_of(error.__cause__))
        if isinstance(error, quickbox.MarshalError):
            return Outcome(result=f"[{_unpassable_kind(str(error))}]", result_kind="handle")
        if isinstance(error, quickbox.JSError):
            original = self.tool_errors.get(error.message) if error.name == "HostError" else None
            if original is not None:
                # The program did not catch a tool's exception: it propagates as that exception, as
                # when the model calls the tool directly (ToolNode's error handling applies).
                raise original from error
            if error.stack is None:  # a thrown value that is not an Error
                return Outcome.error("Error", f"Uncaught {stringify(error.thrown, nested=True)}", "")
            return Outcome.error(error.name, error.message, error.stack)
        if isinstance(error, quickbox.QuickJSError):
            kind = _ENGINE_ERRORS.get(type(error), type(error).__name__.removesuffix("Error") or "Error")
            return Outcome.error(kind, str(error), "".join(getattr(error, "__notes__", [])))
        cause = error.__cause__
        if isinstance(cause, quickbox.JSError):  # an async tool failed and the program did not catch it
            return Outcome.error(cause.name or "HostError", cause.message, cause.stack or "")
        raise error


def _run_step(step: Callable[[quickbox.Context], Coroutine[Any, Any, quickbox.EvalResult]],
              ctx: quickbox.Context) -> quickbox.EvalResult:
    """Runs one engine step to its end on a private event loop (the step awaits nothing: every
    function the program calls is an ask function)."""
    return asyncio.run(step(ctx))


def _reviewable_request(request: Any) -> dict[str, Any]:
    """A held fetch() as the reviewer reads it: the body as text when it is UTF-8 (a form, JSON),
    otherwise only its size, so the request in graph state stays small and readable."""
    out = dict(jsonable({k: v for k, v in request.items() if k != "body"})) if isinstance(request, Mapping) else {}
    body = request.get("body") if isinstance(request, Mapping) else None
    if isinstance(body, (bytes, bytearray)) and body:
        try:
            out["body"] = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            out["body"] = f"({len(body)} bytes of binary data)"
    elif body:
        out["body"] = jsonable(body)
    return out


def _async_only(tool: BaseTool) -> bool:
    """A tool with only a coroutine (``StructuredTool.from_function(coroutine=...)``): under a
    synchronous graph it runs on the session's own event loop."""
    return isinstance(tool, StructuredTool) and tool.func is None and tool.coroutine is not None


_ENGINE_ERRORS: dict[type, str] = {
    quickbox.TimeoutError: "Timeout",
    quickbox.MemoryLimitError: "OutOfMemory",
    quickbox.StackOverflowError: "StackOverflow",
    quickbox.DeadlockError: "Deadlock",
    quickbox.OutputLimitError: "OutputLimit",
    quickbox.InternalError: "InternalError",
}


def _stack_of(error: BaseException | None) -> str:
    return (error.stack or "") if isinstance(error, quickbox.JSError) else ""


def _unpassable_kind(message: str) -> str:
    """"cannot pass a Map (convert ...) to the host" -> "Map"."""
    words = message.removeprefix("cannot pass ").split(" ")
    kind = words[1] if words and words[0] in ("a", "an") and len(words) > 1 else words[0]
    return {"function": "Function", "cyclic": "Circular"}.get(kind, kind)
