"""Tracing: the middleware's hook spans leave out the agent's state (the VM and paused programs
live there), ``trace_policy`` also covers the ``eval`` tool's own run (the program and its
result), and pauses and resumes are recorded with the eval tool's run.

The tracers here are real ones: a ``BaseTracer`` that keeps the runs it is given, and LangSmith's
own ``LangChainTracer`` and client posting to a local HTTP endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from deepagents import create_deep_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.context import tracing_v2_enabled
from langchain_core.tracers.langchain import wait_for_all_tracers
from langchain_core.tracers.schemas import Run
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, TracePolicy, omit_payload
from langsmith import Client
from scripted_agents import ScriptedChatModel, eval_turn, final, last_tool_content, thread, tool_messages, user

from quickbox.langchain import CodeInterpreterMiddleware

# The program names a marker only its source contains, and builds one only its result contains.
PROGRAM = ("const note = 'SOURCE-MARKER'; await tools.sendEmail({ to: 'a@example.com' }); "
           "'RESULT-' + 'MARKER'")
HIDDEN = TracePolicy(process_inputs=omit_payload, process_outputs=omit_payload)


class Recorder(BaseTracer):
    """A tracer (LangGraph and the middleware apply trace policies to tracers) that keeps what
    it is given: hook spans, tool runs as they start and end, custom events."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []
        self.hook_inputs: dict[str, Any] = {}
        self.tool_runs: list[dict[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))

    def _on_chain_start(self, run: Run) -> None:
        if run.name.startswith("CodeInterpreterMiddleware."):
            self.hook_inputs[run.name] = run.inputs

    def _on_tool_end(self, run: Run) -> None:
        self.tool_runs.append({"name": run.name, "id": run.id, "parent": run.parent_run_id,
                               "inputs": run.inputs, "outputs": run.outputs})

    def _persist_run(self, run: Run) -> None:
        pass

    def runs(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.tool_runs if r["name"] == name]


class Watcher(BaseCallbackHandler):
    """The application's own callback handler (not a tracer): trace policies do not apply to it."""

    def __init__(self) -> None:
        self.eval_inputs: list[Any] = []

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, inputs: Any = None,
                      **kwargs: Any) -> None:
        if serialized.get("name") == "eval":
            self.eval_inputs.append(inputs)


@tool
def send_email(to: str) -> str:
    """Sends an email."""
    return f"sent to {to}"


def _middleware(**options: Any) -> CodeInterpreterMiddleware:
    return CodeInterpreterMiddleware(ptc=["send_email"], interrupt_on={"send_email": True}, **options)


def _agent(program: str = "await tools.sendEmail({ to: 'a@example.com' })", *,
           middleware: CodeInterpreterMiddleware | None = None, **options: Any) -> Any:
    model = ScriptedChatModel(turns=[eval_turn(program), final()])
    return create_deep_agent(model=model, tools=[send_email], checkpointer=InMemorySaver(),
                             middleware=[middleware or _middleware(**options)])


def _approve_run(agent: Any, config: dict[str, Any]) -> dict[str, Any]:
    agent.invoke(user("go"), config)
    state: dict[str, Any] = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    return state


def test_pauses_and_resumes_are_recorded_with_the_eval_run_and_hook_spans_omit_the_state() -> None:
    recorder = Recorder()
    agent = _agent()
    config = {**thread("t"), "callbacks": [recorder]}
    paused = agent.invoke(user("go"), config)
    ((name, pause),) = recorder.events
    assert name == "quickbox_pause" and pause["pending_calls"] == 1 and pause["stopped_calls"] == 0
    assert 1000 < pause["snapshot_bytes"] < 64 * 1024
    assert tool_messages(paused)[-1].response_metadata == {"quickbox": {"pause": pause}}
    assert recorder.hook_inputs and all(inputs == {} for inputs in recorder.hook_inputs.values())

    done = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    name, resume = recorder.events[-1]
    assert name == "quickbox_resume" and resume == {"decisions": ["approve"], "snapshot_bytes": pause["snapshot_bytes"]}
    assert tool_messages(done)[-1].response_metadata == {"quickbox": {"resume": resume}}


def test_by_default_the_eval_run_records_the_program_and_its_result_as_langchain_quickjs_does() -> None:
    recorder = Recorder()
    _approve_run(_agent(PROGRAM), {**thread("t"), "callbacks": [recorder]})
    paused, finished = recorder.runs("eval")
    assert paused["inputs"] == finished["inputs"] == {"code": PROGRAM}
    assert "RESULT-MARKER" in str(finished["outputs"])


@pytest.mark.parametrize("how", ["argument", "attribute"])
def test_a_trace_policy_keeps_the_program_and_its_result_out_of_the_eval_run(how: str) -> None:
    recorder, watcher = Recorder(), Watcher()
    if how == "argument":
        middleware = _middleware(trace_policy=HIDDEN)
    else:
        middleware = _middleware()
        middleware.trace_policy = HIDDEN  # LangChain's own way to set a middleware's policy
    agent = _agent(PROGRAM, middleware=middleware)
    state = _approve_run(agent, {**thread("t"), "callbacks": [recorder, watcher]})

    runs = recorder.runs("eval")
    assert len(runs) == 2  # the run that paused and the run that continued
    for run in runs:
        assert run["inputs"] == {} and run["outputs"] == {"output": {}}
    assert "MARKER" not in json.dumps([r["inputs"] for r in runs] + [r["outputs"] for r in runs], default=str)
    (email,) = recorder.runs("send_email")  # a child run keeps its own payload and its place in the tree
    assert email["inputs"] == {"to": "a@example.com"} and email["parent"] == runs[1]["id"]
    assert watcher.eval_inputs == [{"code": PROGRAM}] * 2  # the application's own handler sees the program
    assert last_tool_content(state) == '<result>RESULT-MARKER</result>'  # the run itself is unchanged
    assert all(inputs == {} for inputs in recorder.hook_inputs.values())


async def test_the_policy_applies_to_the_eval_run_under_ainvoke_too() -> None:
    recorder = Recorder()
    agent = _agent(PROGRAM, trace_policy=HIDDEN)
    config = {**thread("t"), "callbacks": [recorder]}
    await agent.ainvoke(user("go"), config)
    state = await agent.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert [r["inputs"] for r in recorder.runs("eval")] == [{}, {}]
    assert [r["outputs"] for r in recorder.runs("eval")] == [{"output": {}}] * 2
    assert recorder.runs("send_email")[0]["inputs"] == {"to": "a@example.com"}
    assert last_tool_content(state) == '<result>RESULT-MARKER</result>'


@pytest.mark.filterwarnings("ignore:astream_log is deprecated")
async def test_the_applications_own_streams_are_not_traces_and_see_the_program_and_result() -> None:
    agent = _agent(PROGRAM, middleware=CodeInterpreterMiddleware(ptc=["send_email"], trace_policy=HIDDEN))
    started = [event["data"].get("input") async for event in agent.astream_events(user("go"), thread("a"),
                                                                                 version="v2")
               if event["event"] == "on_tool_start" and event["name"] == "eval"]
    assert started == [{"code": PROGRAM}]
    logged = [op["value"] async for patch in agent.astream_log(user("go"), thread("b"), include_names=["eval"])
              for op in patch.ops if op["path"].startswith("/logs/eval") and op["path"].endswith("/final_output")]
    assert "RESULT-MARKER" in str(logged)  # astream_log's handler is a tracer, but feeds the caller's stream


def test_a_processor_that_cannot_be_hashed_still_applies() -> None:
    class Summary:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, value: Any) -> Any:
            return {"chars": len(value["code"])}

    recorder = Recorder()
    _approve_run(_agent(PROGRAM, trace_policy=TracePolicy(process_inputs=Summary())),
                 {**thread("t"), "callbacks": [recorder]})
    assert [r["inputs"] for r in recorder.runs("eval")] == [{"chars": len(PROGRAM)}] * 2


def test_a_processor_that_fails_records_nothing_rather_than_the_program() -> None:
    def broken(value: Any) -> Any:
        raise RuntimeError("summarizer is down")

    recorder = Recorder()
    _approve_run(_agent(PROGRAM, trace_policy=TracePolicy(process_inputs=broken)),
                 {**thread("t"), "callbacks": [recorder]})
    assert [r["inputs"] for r in recorder.runs("eval")] == [{}, {}]
    assert "RESULT-MARKER" in str(recorder.runs("eval")[-1]["outputs"])  # outputs had no processor


def test_a_trace_policy_given_replaces_the_default_for_the_hooks() -> None:
    recorder = Recorder()
    agent = _agent(trace_policy=TracePolicy())
    agent.invoke(user("go"), {**thread("t"), "callbacks": [recorder]})
    assert any(inputs != {} for inputs in recorder.hook_inputs.values())


# ---- LangSmith ----------------------------------------------------------------------------------------

class _LangSmithEndpoint(BaseHTTPRequestHandler):
    """Accepts what the LangSmith client sends (runs created by POST, completed by PATCH)."""

    received: list[tuple[str, str, dict[str, Any]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if body:
            self.received.append((self.command, self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def langsmith() -> Iterator[tuple[Client, list[tuple[str, str, dict[str, Any]]]]]:
    received: list[tuple[str, str, dict[str, Any]]] = []
    handler = type("Endpoint", (_LangSmithEndpoint,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        client = Client(api_url=f"http://127.0.0.1:{server.server_address[1]}", api_key="test",
                        auto_batch_tracing=False)
        yield client, received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("policy", [None, HIDDEN], ids=["default", "hidden"])
def test_langsmith_receives_the_eval_run_once_and_under_the_policy(
        langsmith: tuple[Client, list[tuple[str, str, dict[str, Any]]]], policy: TracePolicy | None) -> None:
    client, received = langsmith
    agent = _agent(PROGRAM, **({"trace_policy": policy} if policy else {}))
    with tracing_v2_enabled(project_name="quickbox-tests", client=client):
        _approve_run(agent, thread("t"))
    wait_for_all_tracers()

    created = {body["id"]: body for method, path, body in received if method == "POST" and path == "/runs"}
    creations = [body["id"] for method, path, body in received if method == "POST" and path == "/runs"]
    assert len(creations) == len(created), "a run was posted twice (a second tracer was added)"
    evals = [run_id for run_id, body in created.items() if body["name"] == "eval"]
    assert len(evals) == 2
    sent_for_evals = json.dumps([body for _, path, body in received
                                 if any(run_id in path or body.get("id") == run_id for run_id in evals)])
    if policy is None:
        assert "SOURCE-MARKER" in sent_for_evals and "RESULT-MARKER" in sent_for_evals
    else:
        assert "MARKER" not in sent_for_evals
    (email,) = [body for body in created.values() if body["name"] == "send_email"]
    assert email["parent_run_id"] in evals and email["inputs"] == {"to": "a@example.com"}

