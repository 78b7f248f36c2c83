"""Durable pauses: gated calls from JavaScript suspend the program, the eval tool raises one
LangGraph interrupt in the HumanInTheLoopMiddleware shape, and ``Command(resume=...)`` continues
the same program, in this process or another, without running anything twice."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from deepagents import create_deep_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command
from pydantic import ValidationError
from scripted_agents import Effects, ScriptedChatModel, eval_turn, final, last_tool_content, thread, user

from quickbox.langchain import CodeInterpreterMiddleware

APPROVE = {"type": "approve"}
PAUSES = "_quickbox_pauses"


class World:
    """The tools' side effects, counted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.effects: Counter[str] = Counter()

        @tool
        def lookup(name: str) -> dict[str, str]:
            """Finds a person."""
            self.record(f"lookup {name}")
            return {"name": name, "email": f"{name.lower()}@example.com"}

        @tool
        def send_email(to: str, body: str = "") -> str:
            """Sends an email."""
            self.record(f"send {to}")
            return f"sent to {to}"

        @tool
        def delete_file(path: str) -> str:
            """Deletes a file."""
            self.record(f"delete {path}")
            return f"deleted {path}"

        self.tools = [lookup, send_email, delete_file]

    def record(self, effect: str) -> None:
        with self.lock:
            self.effects[effect] += 1


def mailer_subagent(world: World) -> tuple[dict[str, Any], ScriptedChatModel]:
    def ask_to_send(messages: list[Any]) -> AIMessage:
        return AIMessage(content="", tool_calls=[{"name": "send_email", "args": {"to": "boss@example.com"},
                                                  "id": "mail-1", "type": "tool_call"}])
    model = ScriptedChatModel(turns=[ask_to_send, lambda m: AIMessage(content=f"mailer: {m[-1].content}")])
    spec = {"name": "mailer", "description": "Sends mail.", "system_prompt": "Mail.", "model": model,
            "tools": [world.tools[1]], "interrupt_on": {"send_email": True}}
    return spec, model


def make_agent(world: World, program: str, *, store: Any = "memory", checkpointer: Any = None,
               **options: Any) -> Any:
    options.setdefault("ptc", ["lookup", "send_email", "delete_file"])
    options.setdefault("interrupt_on", {"send_email": True,
                                        "delete_file": {"allowed_decisions": ["approve", "reject"]}})
    researcher = {"name": "researcher", "description": "Researches.", "system_prompt": "Research.",
                  "model": ScriptedChatModel(turns=[lambda m: AIMessage(content=f"found {m[-1].content}")]),
                  "tools": []}
    mailer, _ = mailer_subagent(world)
    model = ScriptedChatModel(turns=[eval_turn(program), final()])
    return create_deep_agent(model=model, tools=world.tools, subagents=[researcher, mailer],
                             middleware=[CodeInterpreterMiddleware(**options)],
                             checkpointer=checkpointer or InMemorySaver(),
                             store=InMemoryStore() if store == "memory" else store)


THREE_EMAILS = """
const people = await Promise.all(["Ada", "Bob", "Cy"].map((name) => tools.lookup({ name })));
console.log("found", people.length);
await Promise.all(people.map((p) => tools.sendEmail({ to: p.email }).catch((e) => "not sent: " + e.message)))
"""


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_three_pending_calls_are_one_request_and_every_decision_applies(asynchronous: bool) -> None:
    world = World()
    agent = make_agent(world, THREE_EMAILS)

    async def invoke(value: Any) -> dict[str, Any]:
        return await agent.ainvoke(value, thread("t")) if asynchronous else agent.invoke(value, thread("t"))

    paused = await invoke(user("mail everyone"))
    (pause,) = paused["__interrupt__"]
    assert [a["args"] for a in pause.value["action_requests"]] == [
        {"to": "ada@example.com"}, {"to": "bob@example.com"}, {"to": "cy@example.com"}]
    assert all(a["name"] == "send_email" and "Tool: send_email" in a["description"]
               for a in pause.value["action_requests"])
    assert pause.value["review_configs"] == [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject", "respond"]}] * 3
    assert world.effects == {"lookup Ada": 1, "lookup Bob": 1, "lookup Cy": 1}

    done = await invoke(Command(resume={"decisions": [
        APPROVE,
        {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "robert@example.com"}}},
        {"type": "reject", "message": "Cy is on leave"},
    ]}))
    assert "__interrupt__" not in done
    assert last_tool_content(done) == (
        '<stdout>\nfound 3\n</stdout>\n<result>["sent to ada@example.com", "sent to robert@example.com", '
        '"not sent: the reviewer rejected the call to \'send_email\': Cy is on leave"]</result>')
    assert world.effects == {"lookup Ada": 1, "lookup Bob": 1, "lookup Cy": 1, "send ada@example.com": 1,
                             "send robert@example.com": 1}


def test_two_evals_paused_in_one_turn_are_one_request_in_call_order() -> None:
    world = World()
    model = ScriptedChatModel(turns=[eval_turn("await tools.sendEmail({ to: 'a@example.com' })",
                                               "await tools.deleteFile({ path: '/b' })"), final()])
    agent = create_deep_agent(model=model, tools=world.tools, checkpointer=InMemorySaver(),
                              middleware=[CodeInterpreterMiddleware(ptc=["send_email", "delete_file"],
                                                                    interrupt_on={"send_email": True,
                                                                                  "delete_file": True})])
    (pause,) = agent.invoke(user("go"), thread("t"))["__interrupt__"]
    assert [a["name"] for a in pause.value["action_requests"]] == ["send_email", "delete_file"]
    done = agent.invoke(Command(resume={"decisions": [APPROVE, {"type": "reject", "message": "keep it"}]}),
                        thread("t"))
    sent, rejected = (str(m.content) for m in done["messages"] if getattr(m, "name", None) == "eval")
    assert rejected.startswith("<error type=\"Error\">the reviewer rejected the call to 'delete_file': keep it")
    assert sent == "<result>sent to a@example.com</result>"
    assert world.effects == {"send a@example.com": 1}


def test_when_and_description_shape_the_request_as_in_human_in_the_loop() -> None:
    world = World()
    gate = {"allowed_decisions": ["approve", "reject"],
            "when": lambda request: request.tool_call["args"]["path"].startswith("/etc"),
            "description": lambda tool_call, state, runtime: f"Delete {tool_call['args']['path']}?"}
    agent = make_agent(world, "await Promise.all(['/tmp/x', '/etc/passwd'].map((path) => tools.deleteFile({ path })))",
                       interrupt_on={"delete_file": gate})
    (action,) = agent.invoke(user("go"), thread("t"))["__interrupt__"][0].value["action_requests"]
    assert action == {"name": "delete_file", "args": {"path": "/etc/passwd"}, "description": "Delete /etc/passwd?"}
    assert world.effects == {"delete /tmp/x": 1}
    done = agent.invoke(Command(resume={"decisions": [{"type": "reject", "message": "no"}]}), thread("t"))
    assert "rejected the call to 'delete_file': no" in last_tool_content(done)


def test_respond_answers_on_behalf_of_the_tool() -> None:
    world = World()
    agent = make_agent(world, "await tools.sendEmail({ to: 'x@example.com' })")
    agent.invoke(user("go"), thread("t"))
    done = agent.invoke(Command(resume={"decisions": [{"type": "respond", "message": "already sent by hand"}]}),
                        thread("t"))
    assert last_tool_content(done) == "<result>already sent by hand</result>"
    assert world.effects == {}


def test_javascript_cannot_observe_or_catch_a_pause() -> None:
    world = World()
    program = """
    let seen = "nothing";
    try { seen = await tools.deleteFile({ path: "/tmp/a" }); } catch (e) { seen = "caught " + e.message; }
    seen
    """
    agent = make_agent(world, program)
    assert "__interrupt__" in agent.invoke(user("go"), thread("t"))
    done = agent.invoke(Command(resume={"decisions": [APPROVE]}), thread("t"))
    assert last_tool_content(done) == "<result>deleted /tmp/a</result>"


def test_each_pause_is_a_round_and_nothing_finished_runs_again() -> None:
    world = World()
    program = """
    const ada = await tools.lookup({ name: "Ada" });
    const first = await tools.sendEmail({ to: ada.email });
    const bob = await tools.lookup({ name: "Bob" });
    const second = await tools.deleteFile({ path: "/tmp/" + bob.name });
    [first, second]
    """
    agent = make_agent(world, program)
    first = agent.invoke(user("go"), thread("t"))["__interrupt__"][0]
    assert first.value["action_requests"][0]["args"] == {"to": "ada@example.com"}
    second = agent.invoke(Command(resume={"decisions": [APPROVE]}), thread("t"))["__interrupt__"][0]
    assert second.value["action_requests"][0]["args"] == {"path": "/tmp/Bob"}
    assert second.value["review_configs"][0]["allowed_decisions"] == ["approve", "reject"]
    done = agent.invoke(Command(resume={"decisions": [APPROVE]}), thread("t"))
    assert last_tool_content(done) == '<result>["sent to ada@example.com", "deleted /tmp/Bob"]</result>'
    assert world.effects == {"lookup Ada": 1, "send ada@example.com": 1, "lookup Bob": 1, "delete /tmp/Bob": 1}


def test_an_answer_that_does_not_fit_the_request_is_refused_and_can_be_given_again() -> None:
    world = World()
    agent = make_agent(world, "await tools.deleteFile({ path: '/etc' })")
    agent.invoke(user("go"), thread("t"))
    edit = {"type": "edit", "edited_action": {"name": "delete_file", "args": {"path": "/tmp"}}}
    with pytest.raises(ValidationError, match="does not match any of the expected tags: 'approve', 'reject'"):
        agent.invoke(Command(resume={"decisions": [edit]}), thread("t"))
    with pytest.raises(ValidationError, match="Tuple should have at most 1 item"):
        agent.invoke(Command(resume={"decisions": [APPROVE, APPROVE]}), thread("t"))
    with pytest.raises(ValidationError, match="Input should be a valid dictionary"):  # bare: only for questions
        agent.invoke(Command(resume="yes"), thread("t"))
    done = agent.invoke(Command(resume={"decisions": [{"type": "reject"}]}), thread("t"))
    assert last_tool_content(done).startswith("<error type=\"Error\">the reviewer rejected the call to 'delete_file'")
    assert world.effects == {}


def test_running_a_paused_thread_again_without_an_answer_asks_the_same_question() -> None:
    world = World()
    program = """
    const a = await tools.deleteFile({ path: "/a" }).catch(() => "kept /a");
    const b = await tools.deleteFile({ path: "/b" }).catch(() => "kept /b");
    [a, b]
    """
    agent = make_agent(world, program)
    agent.invoke(user("go"), thread("t"))
    again = agent.invoke(None, thread("t"))
    assert again["__interrupt__"][0].value["action_requests"][0]["args"] == {"path": "/a"}
    second = agent.invoke(Command(resume={"decisions": [{"type": "reject"}]}), thread("t"))
    assert second["__interrupt__"][0].value["action_requests"][0]["args"] == {"path": "/b"}
    repeated = agent.invoke(None, thread("t"))  # nothing already decided is asked or run again
    assert repeated["__interrupt__"][0].value["action_requests"][0]["args"] == {"path": "/b"}
    done = agent.invoke(Command(resume={"decisions": [APPROVE]}), thread("t"))
    assert last_tool_content(done) == '<result>["kept /a", "deleted /b"]</result>'
    assert world.effects == {"delete /b": 1}


async def test_async_sqlite_checkpointer_alone_keeps_the_pause_in_graph_state(tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    world = World()
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "checkpoints.db")) as saver:
        agent = make_agent(world, THREE_EMAILS, store=None, checkpointer=saver)
        await agent.ainvoke(user("go"), thread("t"))
        assert list((await agent.aget_state(thread("t"))).values[PAUSES]) == ["call-0"]
        done = await agent.ainvoke(Command(resume={"decisions": [APPROVE] * 3}), thread("t"))
        assert last_tool_content(done).endswith('["sent to ada@example.com", "sent to bob@example.com", '
                                                '"sent to cy@example.com"]</result>')
        assert (await agent.aget_state(thread("t"))).values[PAUSES] == {}
        assert world.effects == {**{f"lookup {n}": 1 for n in ("Ada", "Bob", "Cy")},
                                 **{f"send {n}@example.com": 1 for n in ("ada", "bob", "cy")}}


def test_gated_subagent_dispatches_pause_like_tools() -> None:
    world = World()
    program = """
    await Promise.allSettled([
      task({ description: "tides", subagentType: "researcher" }),
      task({ description: "comets", subagentType: "researcher" }),
    ]).then((all) => all.map((s) => s.value ?? s.reason.message))
    """
    agent = make_agent(world, program, interrupt_on={"task:researcher": {"allowed_decisions": ["approve", "reject"]}})
    pause = agent.invoke(user("go"), thread("t"))["__interrupt__"][0]
    assert pause.value["action_requests"][0]["name"] == "task"
    assert pause.value["action_requests"][1]["args"] == {"description": "comets", "subagent_type": "researcher"}
    assert pause.value["review_configs"][0] == {"action_name": "task", "allowed_decisions": ["approve", "reject"]}
    done = agent.invoke(Command(resume={"decisions": [APPROVE, {"type": "reject", "message": "enough"}]}), thread("t"))
    assert last_tool_content(done) == ('<result>["found tides", "the reviewer rejected the dispatch of subagent '
                                       '\'researcher\': enough"]</result>')


def test_a_subagent_that_pauses_on_its_own_resumes_where_it_stopped() -> None:
    world = World()
    program = """
    const [notes, mail] = await Promise.all([
      task({ description: "tides", subagentType: "researcher" }),
      task({ description: "tell the boss", subagentType: "mailer" }),
    ]);
    [notes, mail]
    """
    agent = make_agent(world, program, interrupt_on={})
    pause = agent.invoke(user("go"), thread("t"))["__interrupt__"][0]
    (action,) = pause.value["action_requests"]
    assert action["name"] == "send_email" and action["args"] == {"to": "boss@example.com"}
    assert action["description"].startswith("[subagent 'mailer', started by the JavaScript program] ")
    assert world.effects == {}
    done = agent.invoke(Command(resume={"decisions": [APPROVE]}), thread("t"))
    assert last_tool_content(done) == '<result>["found tides", "mailer: sent to boss@example.com"]</result>'
    assert world.effects == {"send boss@example.com": 1}


def test_the_paused_subagent_continues_from_its_checkpoint() -> None:
    world = World()
    spec, mailer_model = mailer_subagent(world)
    model = ScriptedChatModel(turns=[eval_turn("await task({ description: 'go', subagentType: 'mailer' })"), final()])
    agent = create_deep_agent(model=model, subagents=[spec], middleware=[CodeInterpreterMiddleware()],
                              checkpointer=InMemorySaver(), store=InMemoryStore())
    agent.invoke(user("go"), thread("t"))
    edit = {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "team@example.com"}}}
    done = agent.invoke(Command(resume={"decisions": [edit]}), thread("t"))
    assert last_tool_content(done).startswith("<result>mailer: Note: a human reviewer replaced this tool call")
    assert last_tool_content(done).endswith('Executed instead: send_email with arguments {"to": "team@example.com"}.'
                                            "\n\nTool response:\nsent to team@example.com</result>")
    assert len(mailer_model.seen) == 2  # its first model call is not repeated after the pause
    assert world.effects == {"send team@example.com": 1}


def test_a_pause_record_that_was_tampered_with_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    agent = make_agent(world, "await tools.sendEmail({ to: 'a@example.com' })", snapshot_signing_key="key")
    agent.invoke(user("go"), thread("t"))
    record = dict(agent.get_state(thread("t")).values[PAUSES]["call-0"])
    record["blocked"] = [{**record["blocked"][0], "args": {"to": "attacker@example.com"}}]
    agent.update_state(thread("t"), {PAUSES: {"call-0": record}})
    with caplog.at_level(logging.WARNING, logger="quickbox.langchain"):
        done = agent.invoke(Command(resume={"decisions": [APPROVE]}), thread("t"))
    assert last_tool_content(done).startswith('<error type="PauseRefused">the pause record of tool call '
                                              "'call-0' failed its integrity check")
    assert world.effects == {} and "failed its integrity check" in caplog.text
    assert agent.get_state(thread("t")).values[PAUSES] == {}


def test_a_new_turn_drops_a_pause_nobody_resumed() -> None:
    world = World()
    model = ScriptedChatModel(turns=[eval_turn("await tools.sendEmail({ to: 'a@example.com' })"), final(), final()])
    agent = create_deep_agent(model=model, tools=world.tools, checkpointer=InMemorySaver(), middleware=[
        CodeInterpreterMiddleware(ptc=["send_email"], interrupt_on={"send_email": True})])
    agent.invoke(user("go"), thread("t"))
    assert list(agent.get_state(thread("t")).values[PAUSES]) == ["call-0"]
    done = agent.invoke(user("never mind"), thread("t"))
    assert "__interrupt__" not in done and agent.get_state(thread("t")).values[PAUSES] == {}
    assert "abandoned: a new turn began without resuming it" in last_tool_content(done)
    assert world.effects == {}


def test_a_sqlite_checkpointer_alone_makes_a_pause_durable_across_processes(tmp_path: Path, effects: Effects, approval_process: Any) -> None:
    where = f"sqlite:{tmp_path}"
    started = approval_process(where, "thread-1", str(effects.path), "start")
    # the suspended VM (compressed) and what it waits on: 11.5 KB before the web-standard globals
    # joined the base image, 12.4 to 14.6 KB since, as their objects move where the heap's holes fall
    assert started["record_bytes"]["call-0"] < 16 * 1024
    assert [a["args"]["to"] for a in started["interrupt"]["action_requests"]] == [
        "ada@example.com", "bob@example.com", "cy@example.com"]
    assert sorted(effects.lines()) == ["lookup Ada", "lookup Bob", "lookup Cy", "research"]  # lookups run at once
    decisions = {"decisions": [APPROVE, {"type": "reject", "message": "not Bob"},
                               {"type": "edit", "edited_action": {"name": "send_email",
                                                                  "args": {"to": "cyrus@example.com", "body": "hi"}}}]}
    resumed = approval_process(where, "thread-1", str(effects.path), "resume", __import__("json").dumps(decisions))
    assert resumed["answer"] == "all done" and not resumed["interrupted"]
    assert resumed["result"] == ('<result>{brief: "brief on Ada, Bob, Cy", sent: ["sent to ada@example.com", '
                                 '"not sent: the reviewer rejected the call to \'send_email\': not Bob", '
                                 '"sent to cyrus@example.com"]}</result>')
    assert sorted(effects.lines()) == sorted(["lookup Ada", "lookup Bob", "lookup Cy", "research",
                                              "send ada@example.com", "send cyrus@example.com"])


async def test_twenty_five_agents_pause_and_resume_concurrently_in_one_process() -> None:
    world = World()
    program = """
    const person = await tools.lookup({ name: "P" + N });
    const sent = await tools.sendEmail({ to: person.email });
    [person.name, sent]
    """
    agents = [make_agent(world, program.replace("N", str(i))) for i in range(25)]
    paused = await asyncio.gather(*(a.ainvoke(user("go"), thread(f"t{i}")) for i, a in enumerate(agents)))
    assert all(p["__interrupt__"][0].value["action_requests"][0]["args"] == {"to": f"p{i}@example.com"}
               for i, p in enumerate(paused))
    done = await asyncio.gather(*(a.ainvoke(Command(resume={"decisions": [APPROVE]}), thread(f"t{i}"))
                                  for i, a in enumerate(agents)))
    assert [last_tool_content(d) for d in done] == [
        f'<result>["P{i}", "sent to p{i}@example.com"]</result>' for i in range(25)]
    assert world.effects == Counter({**{f"lookup P{i}": 1 for i in range(25)},
                                     **{f"send p{i}@example.com": 1 for i in range(25)}})



def test_two_in_memory_checkpointers_never_share_a_claim() -> None:
    from quickbox.langchain import _claims

    first, second = InMemorySaver(), InMemorySaver()
    key = _claims.round_key("t", "call-0", b"the same snapshot")
    assert _claims.claim(first, key, "run-a") and _claims.start(first, key, "run-a")
    assert not _claims.claim(first, key, "run-b") and not _claims.start(first, key, "run-b")
    assert _claims.claim(second, key, "run-c") and _claims.start(second, key, "run-c")
