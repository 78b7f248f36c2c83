"""A Deep Agents agent whose JavaScript pauses for a person's approval, across processes.

No API key needed: the models are scripted. The agent's program looks up the merged changes,
fans out to two subagents at once (a writer and an auditor), then asks to publish the release,
which needs approval. The first run stops at that pause and the process exits; a second run
(a new process) approves or rejects, and the same program carries on from where it paused.

    python examples/agent_approval.py                   # run until the approval is needed
    python examples/agent_approval.py approve           # in a new process: approve, finish
    python examples/agent_approval.py reject "not yet"  # ... or reject, with a reason

State (a SQLite checkpointer: the paused program lives in graph state) is kept in --state DIR, a
directory in the system's temp directory unless given. Running it again after a finished run
starts a new turn in the same conversation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepagents import create_deep_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from quickbox.langchain import CodeInterpreterMiddleware

THREAD = {"configurable": {"thread_id": "release-2.4.0"}}

PROGRAM = """
const changes = await tools.listChanges({ since: "v2.3.0" });
console.log(`${changes.length} changes since v2.3.0`);
const [notes, audit] = await Promise.all([
  task({ description: "Write release notes for: " + changes.map((c) => c.title).join("; "),
         subagentType: "writer", label: "release notes" }),
  task({ description: "Which of these changes break users? " + JSON.stringify(changes),
         subagentType: "auditor", label: "breaking changes",
         responseSchema: { type: "object", properties: { breaking: { type: "array", items: { type: "string" } } },
                           required: ["breaking"] } }),
]);
const published = await tools.publishRelease({ version: "2.4.0", notes, breaking: audit.breaking })
  .catch((error) => "not published: " + error.message);
({ published, breaking: audit.breaking })
"""


class ScriptedModel(BaseChatModel):
    """Replies from a script instead of calling a provider: reply *i* answers a turn (what
    follows the latest user message) that already holds *i* AI messages."""

    replies: list[Callable[[list[BaseMessage]], AIMessage]]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        turn_start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=0)
        reply = self.replies[sum(isinstance(m, AIMessage) for m in messages[turn_start:])](messages)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def build_agent(checkpointer: SqliteSaver, state_dir: Path) -> Any:
    @tool
    def list_changes(since: str) -> list[dict[str, str]]:
        """Changes merged since a tag."""
        return [{"id": "#812", "title": "Faster snapshot restore"},
                {"id": "#815", "title": "Remove the deprecated --legacy-output flag"},
                {"id": "#819", "title": "Approvals survive restarts"}]

    @tool
    def publish_release(version: str, notes: str, breaking: list[str]) -> str:
        """Publishes a release (visible to every user)."""
        with (state_dir / "published.txt").open("a") as log:
            log.write(f"{version}\n")
        print(f"  [publish_release] published {version} with {len(breaking)} breaking change(s)")
        return f"published {version}"

    main = ScriptedModel(replies=[
        lambda _: AIMessage(content="", tool_calls=[{"name": "eval", "args": {"code": PROGRAM}, "id": "eval-1"}]),
        lambda messages: AIMessage(content="Release 2.4.0 is out." if "published 2.4.0" in str(messages[-1].content)
                                   else "Release 2.4.0 was not published."),
    ])
    writer = ScriptedModel(replies=[lambda m: AIMessage(
        content="2.4.0: snapshot restore is faster, approvals survive restarts, --legacy-output is gone.")])
    auditor = ScriptedModel(replies=[lambda m: AIMessage(
        content=json.dumps({"breaking": ["#815 removes --legacy-output"]}))])
    return create_deep_agent(
        model=main, tools=[list_changes, publish_release], checkpointer=checkpointer,
        subagents=[
            {"name": "writer", "description": "Writes release notes.", "system_prompt": "Write notes.",
             "model": writer, "tools": []},
            {"name": "auditor", "description": "Finds breaking changes.", "system_prompt": "Audit.",
             "model": auditor, "tools": []},
        ],
        middleware=[CodeInterpreterMiddleware(ptc=["list_changes", "publish_release"],
                                              interrupt_on={"publish_release": True},
                                              snapshot_signing_key="example key: use a secret")],
    )


def run(agent: Any, value: Any, state_dir: Path) -> None:
    for mode, chunk in agent.stream(value, THREAD, stream_mode=["custom", "updates"]):
        if mode == "custom" and chunk.get("type") == "subagent":
            detail = chunk.get("label", "") if chunk["phase"] == "start" else f"{chunk.get('duration_ms', 0)} ms"
            print(f"  [subagent {chunk['id']}] {chunk['phase']}: {detail}")
        elif mode == "updates" and "__interrupt__" in chunk:
            show_pause(chunk["__interrupt__"][0].value)
            print("\nThe program is paused and this process exits. Continue it from another process:")
            print(f"  {sys.executable} {sys.argv[0]} approve --state {state_dir}    (or: reject \"reason\")")
            return
        elif mode == "updates":
            for update in chunk.values():
                for message in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                    if isinstance(message, ToolMessage):
                        print(textwrap.indent(f"[{message.name}] {message.content}", "    ")[2:])
                    elif isinstance(message, AIMessage) and message.content:
                        print(f"  [agent] {message.content}")


def show_pause(request: dict[str, Any]) -> None:
    print("\nWaiting for approval:")
    for action, review in zip(request["action_requests"], request["review_configs"], strict=True):
        print(f"  - {action['name']}({json.dumps(action['args'])})")
        print(f"    allowed: {', '.join(review['allowed_decisions'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("decision", nargs="?", choices=["start", "approve", "reject"], default="start")
    parser.add_argument("reason", nargs="?", default="")
    parser.add_argument("--state", type=Path, default=Path(tempfile.gettempdir()) / "quickbox-agent-approval")
    args = parser.parse_args()
    args.state.mkdir(parents=True, exist_ok=True)
    print(f"state: {args.state}")
    with SqliteSaver.from_conn_string(str(args.state / "checkpoints.db")) as checkpointer:
        checkpointer.setup()
        agent = build_agent(checkpointer, args.state)
        pending = agent.get_state(THREAD).interrupts
        if args.decision == "start":
            if pending:
                sys.exit("a run is already paused here; approve or reject it (or delete the --state directory)")
            print("run 1: the agent starts")
            run(agent, {"messages": [{"role": "user", "content": "Publish release 2.4.0."}]}, args.state)
        else:
            if not pending:
                sys.exit("nothing is paused here; run without arguments first")
            decision = {"type": "approve"} if args.decision == "approve" else {"type": "reject", "message": args.reason}
            print(f"run 2: resuming with {decision}")
            run(agent, Command(resume={"decisions": [decision]}), args.state)


if __name__ == "__main__":
    main()
