"""One process of the cross-process fetch-approval test: an agent whose program makes a GET and
then a POST the network policy holds for review, over a SQLite checkpointer alone. It either
starts the run (and exits at the pause) or resumes it with the decisions given, and prints one
JSON line.

    python fetch_approval_process.py DIR ORIGIN start
    python fetch_approval_process.py DIR ORIGIN resume '{"decisions": [...]}'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deepagents import create_deep_agent
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from scripted_agents import ScriptedChatModel, eval_turn, final, thread, tool_messages, user

from quickbox import Network
from quickbox.langchain import CodeInterpreterMiddleware

APPROVAL_PROGRAM = """
const listed = await (await fetch('{url}')).text();
const placed = await fetch('{url}', {{ method: 'POST', body: 'one book' }})
  .then(r => r.status, e => e.message);
[listed, placed]
"""


def approving_network(origin: str) -> Network:
    return Network(allow=[origin + "/"], approve_unsafe_methods=True)


def main(where: str, origin: str, phase: str, *rest: str) -> None:
    with SqliteSaver.from_conn_string(str(Path(where) / "checkpoints.db")) as saver:
        saver.setup()
        model = ScriptedChatModel(turns=[eval_turn(APPROVAL_PROGRAM.format(url=origin + "/orders")), final()])
        agent = create_deep_agent(model=model, checkpointer=saver, middleware=[CodeInterpreterMiddleware(
            network=approving_network(origin), snapshot_signing_key="fetch-approval-test")])
        if phase == "start":
            state = agent.invoke(user("order"), thread("t"))
            print(json.dumps({"interrupt": state["__interrupt__"][0].value}))
        else:
            state = agent.invoke(Command(resume=json.loads(rest[0])), thread("t"))
            print(json.dumps({"result": tool_messages(state)[-1].content}))


if __name__ == "__main__":
    main(*sys.argv[1:])
