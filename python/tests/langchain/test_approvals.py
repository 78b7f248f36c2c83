"""Approvals cannot be skipped: a misspelt name in ``ptc`` or ``interrupt_on`` is refused when
the agent is built, and the agent's own human-in-the-loop configuration
(``create_deep_agent(interrupt_on=...)``) governs the same tools, and ``task()``, when JavaScript
calls them, with the same allowed decisions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from deepagents import create_deep_agent
from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from scripted_agents import Effects, ScriptedChatModel, eval_turn, final, last_tool_content, thread, user

from quickbox.langchain import CodeInterpreterMiddleware


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool
def send_email(to: str) -> str:
    """Sends an email."""
    return f"sent to {to}"


def test_a_misspelt_interrupt_on_name_is_refused_when_the_agent_is_built() -> None:
    middleware = CodeInterpreterMiddleware(ptc=["get_weather"], interrupt_on={"get_wheather": True})
    with pytest.raises(ValueError, match=r"interrupt_on names \['get_wheather'\] match no tool of the agent; "
                                         r"its tools are \[.*'get_weather'.*\]"):
        create_deep_agent(model=ScriptedChatModel(turns=[final()]), tools=[get_weather], middleware=[middleware])


def test_a_misspelt_ptc_name_is_refused_when_the_agent_is_built() -> None:
    middleware = CodeInterpreterMiddleware(ptc=["get_wheather"])
    with pytest.raises(ValueError, match=r"ptc names \['get_wheather'\] match no tool of the agent; "
                                         r"its tools are \['get_weather'\]"):
        create_agent(model=ScriptedChatModel(turns=[final()]), tools=[get_weather], middleware=[middleware])


def test_names_of_middleware_tools_and_subagent_gates_are_known() -> None:
    middleware = CodeInterpreterMiddleware(ptc=["read_file", "get_weather"],
                                           interrupt_on={"read_file": True, "task:researcher": True, "task": False})
    create_deep_agent(model=ScriptedChatModel(turns=[final()]), tools=[get_weather], middleware=[middleware])


class Sent:
    def __init__(self) -> None:
        self.to: list[str] = []

        @tool
        def send_email(to: str) -> str:
            """Sends an email."""
            self.to.append(to)
            return f"sent to {to}"

        self.tool = send_email


def test_the_agents_own_interrupt_on_gates_calls_from_javascript_with_its_decisions() -> None:
    sent = Sent()
    model = ScriptedChatModel(turns=[eval_turn("await tools.sendEmail({ to: 'a@example.com' })"), final()])
    agent = create_deep_agent(model=model, tools=[sent.tool], checkpointer=InMemorySaver(),
                              interrupt_on={"send_email": {"allowed_decisions": ["approve", "reject"]}},
                              middleware=[CodeInterpreterMiddleware(ptc=["send_email"])])
    (pause,) = agent.invoke(user("go"), thread("t"))["__interrupt__"]
    assert pause.value["action_requests"][0]["args"] == {"to": "a@example.com"}
    assert pause.value["review_configs"] == [{"action_name": "send_email", "allowed_decisions": ["approve", "reject"]}]
    assert sent.to == []
    with pytest.raises(Exception, match="does not match any of the expected tags: 'approve', 'reject'"):
        agent.invoke(Command(resume={"decisions": [{"type": "respond", "message": "no"}]}), thread("t"))
    done = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), thread("t"))
    assert last_tool_content(done) == "<result>sent to a@example.com</result>" and sent.to == ["a@example.com"]


def test_the_agents_own_interrupt_on_for_task_gates_dispatches_from_javascript() -> None:
    researcher = {"name": "researcher", "description": "Researches.", "system_prompt": "Research.",
                  "model": ScriptedChatModel(turns=[lambda m: AIMessage(content=f"found {m[-1].content}")]),
                  "tools": []}
    model = ScriptedChatModel(turns=[eval_turn("await task({ description: 'tides', subagentType: 'researcher' })"),
                                     final()])
    agent = create_deep_agent(model=model, subagents=[researcher], checkpointer=InMemorySaver(),
                              interrupt_on={"task": {"allowed_decisions": ["approve", "reject"]}},
                              middleware=[CodeInterpreterMiddleware()])
    (pause,) = agent.invoke(user("go"), thread("t"))["__interrupt__"]
    assert pause.value["action_requests"][0]["name"] == "task"
    assert pause.value["review_configs"][0]["allowed_decisions"] == ["approve", "reject"]
    done = agent.invoke(Command(resume={"decisions": [{"type": "reject", "message": "not now"}]}), thread("t"))
    assert "the reviewer rejected the dispatch of subagent 'researcher': not now" in last_tool_content(done)


def test_the_middlewares_own_gate_for_a_name_takes_precedence_over_the_agents() -> None:
    sent = Sent()
    model = ScriptedChatModel(turns=[eval_turn("await tools.sendEmail({ to: 'a@example.com' })"), final()])
    agent = create_deep_agent(model=model, tools=[sent.tool], checkpointer=InMemorySaver(),
                              interrupt_on={"send_email": True},
                              middleware=[CodeInterpreterMiddleware(
                                  ptc=["send_email"], interrupt_on={"send_email": {"allowed_decisions": ["reject"]}})])
    (pause,) = agent.invoke(user("go"), thread("t"))["__interrupt__"]
    assert pause.value["review_configs"][0]["allowed_decisions"] == ["reject"]


def test_the_agents_gate_holds_across_processes(tmp_path: Path, effects: Effects, approval_process: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, "GATES", "agent")
    where = f"sqlite:{tmp_path}"
    started = approval_process(where, "t", str(effects.path), "start")
    assert [a["args"]["to"] for a in started["interrupt"]["action_requests"]] == [
        "ada@example.com", "bob@example.com", "cy@example.com"]
    assert not [line for line in effects.lines() if line.startswith("send")]
    decisions = {"decisions": [{"type": "approve"}, {"type": "reject"}, {"type": "reject"}]}
    resumed = approval_process(where, "t", str(effects.path), "resume", json.dumps(decisions))
    assert not resumed["interrupted"]
    assert sorted(effects.lines()) == ["lookup Ada", "lookup Bob", "lookup Cy", "research", "send ada@example.com"]
