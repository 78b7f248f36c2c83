"""``task()`` in JavaScript dispatches Deep Agents subagents: answers (parsed with a response
schema), the concurrency cap and per-eval total, lifecycle events, and the wall-clock limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from deepagents import create_deep_agent
from langgraph.checkpoint.memory import InMemorySaver
from scripted_agents import (
    Gauge,
    ScriptedChatModel,
    echo_answer,
    eval_turn,
    final,
    json_answer,
    last_tool_content,
    thread,
    user,
)

from quickbox.langchain import CodeInterpreterMiddleware


def agent_with(program: str, middleware: CodeInterpreterMiddleware, *, delay: float = 0.0,
               gauge: Gauge | None = None) -> Any:
    subagents = [
        {"name": "researcher", "description": "Answers questions.", "system_prompt": "Answer.",
         "model": ScriptedChatModel(turns=[echo_answer], delay=delay, gauge=gauge), "tools": []},
        {"name": "counter", "description": "Counts.", "system_prompt": "Count.",
         "model": ScriptedChatModel(turns=[json_answer({"count": 3, "words": ["a", "b"]})]), "tools": []},
    ]
    model = ScriptedChatModel(turns=[eval_turn(program), final()])
    return create_deep_agent(model=model, subagents=subagents, middleware=[middleware], checkpointer=InMemorySaver())


FAN_OUT = """
const topics = ["tides", "comets", "moss"];
const answers = await Promise.all(topics.map((t) => task({ description: "Explain " + t, subagentType: "researcher" })));
const counted = await task({ description: "Count", subagentType: "counter", label: "count words",
                             responseSchema: { type: "object", properties: { count: { type: "number" } } } });
[answers, counted.count + 1, counted.words.length]
"""


def test_task_fans_out_and_a_response_schema_returns_a_javascript_value() -> None:
    state = agent_with(FAN_OUT, CodeInterpreterMiddleware()).invoke(user("go"), thread("t"))
    assert last_tool_content(state) == ('<result>[["answer to: Explain tides", "answer to: Explain comets", '
                                        '"answer to: Explain moss"], 4, 2]</result>')


async def test_subagent_events_go_to_the_custom_stream() -> None:
    agent = agent_with(FAN_OUT, CodeInterpreterMiddleware())
    events = [chunk async for mode, chunk in agent.astream(user("go"), thread("t"), stream_mode=["custom"])]
    starts = [e for e in events if e["phase"] == "start"]
    assert [e["subagent_type"] for e in starts] == ["researcher"] * 3 + ["counter"]
    assert starts[3]["label"] == "count words" and starts[0]["description"] == "Explain tides"
    assert {e["id"] for e in events if e["phase"] == "complete"} == {e["id"] for e in starts}
    assert all(e["type"] == "subagent" and e["eval_id"] == "call-0" for e in events)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_no_more_subagents_run_at_once_than_the_cap(asynchronous: bool) -> None:
    gauge = Gauge()
    program = ("await Promise.all([1, 2, 3, 4, 5, 6].map((i) => "
               "task({ description: 'n' + i, subagentType: 'researcher' })))")
    agent = agent_with(program, CodeInterpreterMiddleware(max_concurrent_subagents=2), delay=0.15, gauge=gauge)
    state = await agent.ainvoke(user("go"), thread("t")) if asynchronous else agent.invoke(user("go"), thread("t"))
    assert last_tool_content(state).startswith('<result>["answer to: n1", "answer to: n2"')
    assert gauge.total == 6 and gauge.peak == 2


def test_dispatches_beyond_the_per_eval_total_are_refused() -> None:
    program = """
    const settled = await Promise.allSettled([1, 2, 3].map((i) =>
      task({ description: 'n' + i, subagentType: 'researcher' })));
    settled.map((s) => s.status === 'fulfilled' ? s.value : s.reason.message)
    """
    state = agent_with(program, CodeInterpreterMiddleware(max_subagent_calls=2)).invoke(user("go"), thread("t"))
    assert last_tool_content(state) == ('<result>["answer to: n1", "answer to: n2", '
                                        '"budget exceeded: \'task\' allows 2 calls per evaluation"]</result>')


def test_a_malformed_dispatch_rejects_with_what_is_missing() -> None:
    state = agent_with("await task({ subagentType: 'researcher' }).catch((e) => e.name + ': ' + e.message)",
                       CodeInterpreterMiddleware()).invoke(user("go"), thread("t"))
    assert last_tool_content(state) == ("<result>TypeError: task() needs `description`: the subagent's complete "
                                        "instructions (a non-empty string)</result>")


def test_wall_timeout_counts_time_spent_waiting_on_subagents() -> None:
    agent = agent_with("await task({ description: 'slow', subagentType: 'researcher' })",
                       CodeInterpreterMiddleware(wall_timeout=0.3), delay=1.5)
    started = time.monotonic()
    state = agent.invoke(user("go"), thread("t"))
    assert last_tool_content(state).startswith('<error type="Timeout">wall-clock limit of 0.3 s exceeded')
    assert time.monotonic() - started < 1.4


def test_without_subagents_there_is_no_task_function() -> None:
    state = agent_with("typeof task", CodeInterpreterMiddleware(subagents=False)).invoke(user("go"), thread("t"))
    assert last_tool_content(state) == "<result>undefined</result>"
