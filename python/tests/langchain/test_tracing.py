"""Tracing: the middleware's hook spans leave out the agent's state (the VM and paused programs
live there), and pauses and resumes are recorded with the eval tool's run."""

from __future__ import annotations

from typing import Any

from deepagents import create_deep_agent
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, TracePolicy
from scripted_agents import ScriptedChatModel, eval_turn, final, thread, tool_messages, user

from quickbox.langchain import CodeInterpreterMiddleware


class Recorder(BaseTracer):
    """A tracer (LangGraph applies trace policies to tracers) that keeps what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []
        self.hook_inputs: dict[str, Any] = {}

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))

    def _on_chain_start(self, run: Run) -> None:
        if run.name.startswith("CodeInterpreterMiddleware."):
            self.hook_inputs[run.name] = run.inputs

    def _persist_run(self, run: Run) -> None:
        pass


@tool
def send_email(to: str) -> str:
    """Sends an email."""
    return f"sent to {to}"


def _agent(**options: Any) -> Any:
    model = ScriptedChatModel(turns=[eval_turn("await tools.sendEmail({ to: 'a@example.com' })"), final()])
    return create_deep_agent(model=model, tools=[send_email], checkpointer=InMemorySaver(), middleware=[
        CodeInterpreterMiddleware(ptc=["send_email"], interrupt_on={"send_email": True}, **options)])


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


def test_a_trace_policy_given_replaces_the_default() -> None:
    recorder = Recorder()
    agent = _agent(trace_policy=TracePolicy())
    agent.invoke(user("go"), {**thread("t"), "callbacks": [recorder]})
    assert any(inputs != {} for inputs in recorder.hook_inputs.values())
