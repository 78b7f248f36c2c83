"""One process of the cross-process approval tests: builds the agent, then either starts a run
(and exits at the pause) or resumes it with the decisions given, and prints one JSON line.

    python approval_process.py sqlite:DIR THREAD EFFECTS start      (a checkpointer alone, no store)
    python approval_process.py postgres:DSN THREAD EFFECTS resume '{"decisions": [...]}'

Every side effect (a tool call, a subagent's model call) appends a line to EFFECTS, so the tests
can count what ran, across both processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deepagents import create_deep_agent
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langgraph.types import Command
from scripted_agents import ScriptedChatModel, eval_turn, final, thread, tool_messages, user

from quickbox.langchain import CodeInterpreterMiddleware

PROGRAM = """
const people = await Promise.all(["Ada", "Bob", "Cy"].map((name) => tools.lookup({ name })));
const brief = await task({ description: "Summarize " + people.map((p) => p.name).join(", "),
                           subagentType: "researcher" });
const sent = await Promise.all(people.map((p) =>
  tools.sendEmail({ to: p.email, body: brief }).catch((error) => "not sent: " + error.message)));
({ brief, sent })
"""

_lock = threading.Lock()


def build_agent(effects: Path, saver: Any) -> Any:
    def record(line: str) -> None:
        with _lock, effects.open("a") as out:
            out.write(line + "\n")

    @tool
    def lookup(name: str) -> dict[str, str]:
        """Finds a person's email address."""
        record(f"lookup {name}")
        return {"name": name, "email": f"{name.lower()}@example.com"}

    @tool
    def send_email(to: str, body: str) -> str:
        """Sends an email."""
        record(f"send {to}")
        return f"sent to {to}"

    def research(messages: list[BaseMessage]) -> AIMessage:
        record("research")
        return AIMessage(content=f"brief on {str(messages[-1].content).removeprefix('Summarize ')}")

    researcher = {"name": "researcher", "description": "Writes briefs.", "system_prompt": "Write briefs.",
                  "model": ScriptedChatModel(turns=[research]), "tools": []}
    model = ScriptedChatModel(turns=[eval_turn(PROGRAM), final("all done")])
    # GATES=agent: the approval is configured on the agent (create_deep_agent(interrupt_on=...)),
    # not on the middleware, and must still govern the calls JavaScript makes.
    gates = {"send_email": True}
    on_agent = os.environ.get("GATES") == "agent"
    middleware = CodeInterpreterMiddleware(ptc=["lookup", "send_email"], interrupt_on=None if on_agent else gates,
                                           snapshot_signing_key="approval-tests")
    return create_deep_agent(model=model, tools=[lookup, send_email], subagents=[researcher],
                             middleware=[middleware], checkpointer=saver, interrupt_on=gates if on_agent else None)


@contextlib.contextmanager
def checkpointer(spec: str) -> Iterator[Any]:
    """A checkpointer and nothing else: the pause lives in graph state."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(str(Path(where) / "checkpoints.db")) as saver:
            saver.setup()
            yield saver
    elif kind == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(where) as saver:
            saver.setup()
            yield saver
    else:
        raise SystemExit(f"unknown checkpointer {spec!r}: use sqlite:DIR or postgres:DSN")


def main(argv: list[str]) -> None:
    spec, thread_id, effects, phase, *rest = argv
    with checkpointer(spec) as saver:
        agent = build_agent(Path(effects), saver)
        if phase == "start":
            state = agent.invoke(user("Brief Ada, Bob and Cy."), thread(thread_id))
            pause = agent.get_state(thread(thread_id)).values["_quickbox_pauses"]
            print(json.dumps({"interrupt": state["__interrupt__"][0].value,
                              "record_bytes": {k: len(saver.serde.dumps_typed(v)[1]) for k, v in pause.items()}}))
        else:
            state = agent.invoke(Command(resume=json.loads(rest[0])), thread(thread_id))
            print(json.dumps({"result": tool_messages(state)[-1].content, "answer": state["messages"][-1].content,
                              "interrupted": "__interrupt__" in state}))


if __name__ == "__main__":
    main(sys.argv[1:])
