"""No stalls: a CPU-bound program leaves the event loop free, async-only tools work under a
synchronous graph, and a program whose calls wait on a call that waits for a person pauses
instead of hanging, without running any finished call again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from deepagents import create_deep_agent
from deepagents.middleware.subagents import CompiledSubAgent
from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command, interrupt
from scripted_agents import ScriptedChatModel, eval_turn, final, last_tool_content, thread, user

from quickbox.langchain import CodeInterpreterMiddleware


async def test_a_cpu_bound_program_leaves_the_event_loop_free() -> None:
    agent = create_deep_agent(model=ScriptedChatModel(turns=[eval_turn("while (true) {}"), final()]),
                              middleware=[CodeInterpreterMiddleware(timeout=1.5)])
    gaps: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    state = await agent.ainvoke(user("spin"))
    stop.set()
    await ticker
    assert last_tool_content(state).startswith('<error type="Timeout">')
    assert time.monotonic() - started >= 1.5
    assert len(gaps) > 50 and max(gaps) < 0.25, f"the loop stalled for {max(gaps):.2f} s"


def test_an_async_only_tool_can_be_called_from_javascript_under_a_synchronous_invoke() -> None:
    async def fetch_price(item: str) -> str:
        await asyncio.sleep(0.01)
        return f"{item}: 3 EUR"

    price = StructuredTool.from_function(coroutine=fetch_price, name="fetch_price", description="A price.")
    agent = create_deep_agent(model=ScriptedChatModel(turns=[eval_turn("await tools.fetchPrice({ item: 'tea' })"),
                                                             final()]),
                              tools=[price], middleware=[CodeInterpreterMiddleware(ptc=["fetch_price"])])
    assert last_tool_content(agent.invoke(user("price?"))) == "<result>tea: 3 EUR</result>"


def _worker(name: str, reviews: int, work: Counter[str], answers: dict[str, list[Any]],
            waits_for: asyncio.Event | None, done: asyncio.Event) -> CompiledSubAgent:
    """A subagent that does its work (counted), then waits for another one to finish, then asks
    a person ``reviews`` times."""
    async def perform(state: MessagesState) -> dict[str, Any]:
        work[name] += 1
        return {"messages": [AIMessage(content=f"{name} result")]}

    async def review(state: MessagesState) -> dict[str, Any]:
        if waits_for is not None:
            await waits_for.wait()
        answers[name] = [interrupt({"worker": name, "review": i}) for i in range(reviews)]
        done.set()
        return {}

    graph = StateGraph(MessagesState)
    graph.add_node("perform", perform)
    graph.add_node("review", review)
    graph.add_edge(START, "perform")
    graph.add_edge("perform", "review")
    graph.add_edge("review", END)
    return CompiledSubAgent(name=name, description=f"{name} work", runnable=graph.compile())


async def test_a_call_waiting_on_a_paused_subagent_pauses_with_it_and_no_finished_work_runs_again() -> None:
    work: Counter[str] = Counter()
    answers: dict[str, list[Any]] = {}
    done = {name: asyncio.Event() for name in ("fast", "review", "cost")}
    workers = [_worker("fast", 0, work, answers, None, done["fast"]),
               _worker("review", 1, work, answers, done["fast"], done["review"]),
               _worker("cost", 1, work, answers, done["review"], done["cost"])]
    program = ("await Promise.all(['fast', 'review', 'cost'].map((subagentType) => "
               "task({ description: 'work', subagentType })))")
    agent = create_deep_agent(model=ScriptedChatModel(turns=[eval_turn(program), final()]), subagents=workers,
                              checkpointer=InMemorySaver(), middleware=[CodeInterpreterMiddleware(pause_grace=0.5)])
    started = time.monotonic()
    first = await asyncio.wait_for(agent.ainvoke(user("go"), thread("t")), 30)
    assert [a["args"]["question"] for a in first["__interrupt__"][0].value["action_requests"]] == [
        {"worker": "review", "review": 0}]  # "cost" waits on "review": it is stopped, not awaited forever
    assert time.monotonic() - started < 10
    respond = {"type": "respond", "message": "approved"}
    second = await asyncio.wait_for(agent.ainvoke(Command(resume={"decisions": [respond]}), thread("t")), 30)
    assert [a["args"]["question"] for a in second["__interrupt__"][0].value["action_requests"]] == [
        {"worker": "cost", "review": 0}]
    final_state = await asyncio.wait_for(agent.ainvoke(Command(resume={"decisions": [respond]}), thread("t")), 30)
    assert "__interrupt__" not in final_state
    assert last_tool_content(final_state) == '<result>["fast result", "review result", "cost result"]</result>'
    assert work == {"fast": 1, "review": 1, "cost": 1}
    assert answers == {"fast": [], "review": ["approved"], "cost": ["approved"]}


async def test_langchain_quickjs_subagent_replay_scenario_resumed_with_bare_answers() -> None:
    """langchain-quickjs's own test_subagent_replay, resumed as it resumes: LangGraph's map of
    interrupt id to the subagent's bare answer. Each round asks one subagent question; five runs
    finish the program, and every subagent's work ran once."""
    work: Counter[str] = Counter()
    answers: dict[str, list[Any]] = {}
    done = {name: asyncio.Event() for name in ("fast", "review", "cost")}
    workers = [_worker("fast", 0, work, answers, None, done["fast"]),
               _worker("review", 1, work, answers, done["fast"], done["review"]),
               _worker("cost", 3, work, answers, done["review"], done["cost"])]
    program = ("await Promise.all(['fast', 'review', 'cost'].map(subagentType => "
               "task({description: 'Do the assigned work', label: 'Worker', subagentType})))")
    call = {"name": "js_eval", "args": {"code": program}, "id": "fanout_eval", "type": "tool_call"}
    agent = create_deep_agent(model=ScriptedChatModel(turns=[AIMessage(content="", tool_calls=[call]),
                                                             final("All work returned.")]),
                              subagents=workers, checkpointer=InMemorySaver(),
                              middleware=[CodeInterpreterMiddleware(tool_name="js_eval", pause_grace=0.5)])
    payload: Any = user("Run the three workers.")
    runs = 0
    while runs < 6:
        runs += 1
        await asyncio.wait_for(agent.ainvoke(payload, thread("t")), 30)
        snapshot = await agent.aget_state(thread("t"))
        if not snapshot.interrupts:
            break
        (asked,) = snapshot.interrupts
        payload = Command(resume={asked.id: "approved"})
    assert runs == 5
    assert work == {"fast": 1, "review": 1, "cost": 1}
    assert answers == {"fast": [], "review": ["approved"], "cost": ["approved"] * 3}
    assert not snapshot.next and snapshot.values["messages"][-1].content == "All work returned."
    (result,) = [m for m in snapshot.values["messages"] if getattr(m, "tool_call_id", None) == "fanout_eval"]
    assert result.content == '<result>["fast result", "review result", "cost result"]</result>'
