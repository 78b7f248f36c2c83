"""Programmatic tool calling: agent tools as ``tools.<camelCase>(input)`` promises in JavaScript,
with the outer runtime injected, a per-eval budget, child runs in callbacks, and a TypeScript
reference in the system prompt."""

from __future__ import annotations

import operator
import threading
from typing import Annotated, Any, TypedDict
from uuid import UUID

import pytest
from deepagents import create_deep_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import SystemMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.prebuilt import ToolRuntime
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command
from pydantic import BaseModel
from scripted_agents import ScriptedChatModel, eval_turn, final, last_tool_content, thread, user

from quickbox.langchain import CodeInterpreterMiddleware


class Weather(BaseModel):
    city: str
    celsius: float


calls: list[dict[str, Any]] = []


@tool
def get_weather(city: str, unit: str = "C") -> Weather:
    """Current weather of a city.

    More detail that stays out of the reference."""
    calls.append({"city": city, "unit": unit})
    return Weather(city=city, celsius=21.5)


@tool
def find_orders(customer_id: int, runtime: ToolRuntime, statuses: list[str] | None = None) -> list[dict[str, Any]]:
    """Orders of a customer."""
    calls.append({"tool_call_id": runtime.tool_call_id, "store": runtime.store is not None,
                  "messages": len(runtime.state["messages"])})
    return [{"id": 1, "customer": customer_id, "statuses": statuses}]


@tool
def flaky(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"flaky failed: {reason}")


def run(program: str, middleware: CodeInterpreterMiddleware, **config: Any) -> tuple[str, ScriptedChatModel]:
    calls.clear()
    model = ScriptedChatModel(turns=[eval_turn(program), final()])
    agent = create_deep_agent(model=model, tools=[get_weather, find_orders, flaky], middleware=[middleware],
                              checkpointer=InMemorySaver(), store=InMemoryStore())
    state = agent.invoke(user("go"), {**thread("t"), **config})
    return last_tool_content(state), model


def test_tools_return_native_values_and_run_concurrently_with_promise_all() -> None:
    result, _ = run("""
        const [w, orders] = await Promise.all([
          tools.getWeather({ city: "Oslo" }), tools.findOrders({ customer_id: 7 })]);
        [w.celsius + 0.5, orders[0].customer, orders[0].statuses]
    """, CodeInterpreterMiddleware(ptc=["get_weather", "find_orders"]))
    assert result == "<result>[22, 7, null]</result>"


def test_a_tool_receives_the_outer_runtime_with_a_child_tool_call_id() -> None:
    result, _ = run("await tools.findOrders({ customer_id: 1, statuses: undefined })",
                    CodeInterpreterMiddleware(ptc=["find_orders"]))
    assert result == "<result>[{id: 1, customer: 1, statuses: null}]</result>"
    (seen,) = calls
    assert seen["tool_call_id"].startswith("call-0:tools.findOrders#") and seen["store"] and seen["messages"] == 2


def test_tool_objects_in_ptc_need_not_be_agent_tools() -> None:
    @tool
    def secret_number() -> int:
        """A number only JavaScript can get."""
        return 7
    result, model = run("await tools.secretNumber()", CodeInterpreterMiddleware(ptc=[secret_number]))
    assert result == "<result>7</result>"


class Notes(TypedDict):
    notes: Annotated[list[str], operator.add]


def _note_graph() -> Any:
    builder = StateGraph(Notes)
    builder.add_node("write", lambda state: {"notes": ["written"]})
    builder.add_edge(START, "write")
    return builder.compile()


def test_graphs_a_tool_runs_stay_separate_from_each_other() -> None:
    notes = _note_graph()

    @tool
    def write_twice() -> list[list[str]]:
        """Runs a graph twice."""
        return [notes.invoke({"notes": []})["notes"], notes.invoke({"notes": []})["notes"]]

    program = "await Promise.all([tools.writeTwice(), tools.writeTwice()])"
    result, _ = run(program, CodeInterpreterMiddleware(ptc=[write_twice]))
    assert result == '<result>[[["written"], ["written"]], [["written"], ["written"]]]</result>'


def test_the_call_budget_is_per_eval_and_reported_by_name() -> None:
    middleware = CodeInterpreterMiddleware(ptc=["get_weather"], max_ptc_calls=2)
    result, _ = run("for (const c of ['a', 'b', 'c']) await tools.getWeather({ city: c })", middleware)
    assert result.startswith('<error type="PTCCallBudgetExceeded">PTC call budget exceeded (limit=2, attempted=3, '
                             'function=tools.getWeather)')
    assert [c["city"] for c in calls] == ["a", "b"]
    result, _ = run("""
        let refused = 0;
        for (const c of ['a', 'b', 'c']) await tools.getWeather({ city: c }).catch(() => refused++);
        refused
    """, middleware)
    assert result == "<result>1</result>"


def test_a_tool_answering_with_messages_or_commands_gives_javascript_the_last_ones_content() -> None:
    @tool
    def emit(value: int) -> list[Command[Any] | ToolMessage]:
        """Answers with a Command and then a message."""
        note = ToolMessage(content=f"noted {value}", tool_call_id="inner-1", name="emit")
        return [Command(update={"messages": [note]}),
                ToolMessage(content=f"answer {value}", tool_call_id="inner-2", name="emit")]

    @tool
    def command(value: int) -> Command[Any]:
        """Answers with a Command."""
        return Command(update={"messages": [ToolMessage(content=f"value={value}", tool_call_id="c", name="command")]})

    model = ScriptedChatModel(turns=[eval_turn(
        "[await tools.emit({ value: 11 }), await tools.command({ value: 7 }), ['kept', 'as data']]"), final()])
    agent = create_deep_agent(model=model, tools=[emit, command],
                              middleware=[CodeInterpreterMiddleware(ptc=["emit", "command"])])
    assert last_tool_content(agent.invoke(user("go"))) == '<result>["answer 11", "value=7", ["kept", "as data"]]</result>'


def test_a_failing_tool_rejects_its_promise() -> None:
    middleware = CodeInterpreterMiddleware(ptc=["flaky"])
    result, _ = run("await tools.flaky({ reason: 'x' }).catch((e) => e.name + ': ' + e.message)", middleware)
    assert result == "<result>HostError: ValueError: flaky failed: x</result>"



def test_a_tool_exception_the_program_does_not_catch_propagates_as_itself() -> None:
    # as when the model calls the tool directly: ToolNode's error handling decides
    with pytest.raises(ValueError, match="flaky failed: y"):
        run("await tools.flaky({ reason: 'y' })", CodeInterpreterMiddleware(ptc=["flaky"]))


def test_invalid_arguments_are_reported_by_the_tool_schema() -> None:
    result, _ = run("await tools.getWeather({ town: 'Oslo' }).catch((e) => e.message)",
                    CodeInterpreterMiddleware(ptc=["get_weather"]))
    assert "city" in result and "Field required" in result


def test_the_system_prompt_has_a_typescript_reference_of_the_tools() -> None:
    middleware = CodeInterpreterMiddleware(ptc=["get_weather", "find_orders"], interrupt_on={"find_orders": True})
    _, model = run("1", middleware)
    system = model.seen[0][0]
    assert isinstance(system, SystemMessage)
    text = str(system.content)
    assert ("/** Current weather of a city. */\ntools.getWeather(input: {\n  city: string;\n  unit?: string;\n}): "
            "Promise<{ city: string; celsius: number; }>") in text
    assert ("tools.findOrders(input: {\n  customer_id: number;\n  statuses?: string[] | null;\n}): "
            "Promise<Record<string, unknown>[]>") in text
    assert "runtime" not in text.split("tools.findOrders")[1].split("Promise")[0]
    assert "Calls to `tools.findOrders` wait for a person to approve them" in text
    assert "tools.flaky" not in text


class ToolRuns(BaseCallbackHandler):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, tuple[UUID, UUID | None]] = {}

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        with self.lock:
            self.runs.setdefault(serialized["name"], (run_id, parent_run_id))
            self.runs[f"{serialized['name']}#{run_id}"] = (run_id, parent_run_id)


def test_every_tool_call_is_a_child_run_of_the_eval_run() -> None:
    handler = ToolRuns()
    run("await Promise.all([tools.getWeather({ city: 'a' }), tools.getWeather({ city: 'b' })])",
        CodeInterpreterMiddleware(ptc=["get_weather"]), callbacks=[handler])
    eval_run, _ = handler.runs["eval"]
    weather_parents = [parent for name, (_, parent) in handler.runs.items() if name.startswith("get_weather#")]
    assert weather_parents == [eval_run, eval_run]
