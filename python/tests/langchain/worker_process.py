"""One worker of the many-worker test: several of these processes share one PostgreSQL
checkpointer, as LangGraph server workers do.

    python worker_process.py DSN EFFECTS BARRIER_DIR WORKERS start THREAD...
    python worker_process.py DSN EFFECTS BARRIER_DIR WORKERS resume THREAD...

Each worker builds the agent, then waits until all WORKERS workers are ready (files in
BARRIER_DIR), so they start or resume at the same moment. It prints one JSON line per thread:
``{"thread": ..., "outcome": "paused" | "done" | "claimed" | "error", ...}``. Every approved
side effect appends a line to EFFECTS, so the test can count them across processes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from deepagents import create_deep_agent
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import tool
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.types import Command
from scripted_agents import ScriptedChatModel, eval_turn, final, thread, user

from quickbox.langchain import CodeInterpreterMiddleware, PauseClaimed

PROGRAM = """
const who = await tools.lookup({});
await tools.sendEmail({ to: who.email })
"""

_lock = threading.Lock()


def build_agent(effects: Path, saver: Any) -> Any:
    def record(what: str) -> None:
        line = f"{what} {ensure_config()['configurable']['thread_id']}"
        with _lock, effects.open("a") as out:
            out.write(line + "\n")

    @tool
    def lookup() -> dict[str, str]:
        """Finds the person this conversation is about."""
        record("lookup")
        return {"email": f"{ensure_config()['configurable']['thread_id']}@example.com"}

    @tool
    def send_email(to: str) -> str:
        """Sends an email."""
        record("sending")
        # a side effect that takes a moment: a second resume has time to race it (SEND_SECONDS:
        # long enough for a test to stop the worker in the middle; SLOW_SEND=THREAD=SECONDS for
        # one thread, so a contested resume holds its claim while the other worker arrives)
        slow_thread, _, slow_seconds = os.environ.get("SLOW_SEND", "").partition("=")
        this_thread = ensure_config()["configurable"]["thread_id"]
        seconds = slow_seconds if slow_thread == this_thread else os.environ.get("SEND_SECONDS", "0.05")
        time.sleep(float(seconds))
        record("send")
        return f"sent to {to}"

    model = ScriptedChatModel(turns=[eval_turn(PROGRAM), final("all done")])
    return create_deep_agent(model=model, tools=[lookup, send_email], checkpointer=saver, middleware=[
        CodeInterpreterMiddleware(ptc=["lookup", "send_email"], interrupt_on={"send_email": True})])


def wait_for_everyone(barrier: Path, workers: int) -> None:
    barrier.mkdir(exist_ok=True)
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < workers:
        if time.monotonic() > deadline:
            raise SystemExit("the other workers did not get ready within 120 s")
        time.sleep(0.005)


def main(argv: list[str]) -> None:
    dsn, effects, barrier, workers, phase, *threads = argv
    with PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()
        agent = build_agent(Path(effects), saver)
        wait_for_everyone(Path(barrier), int(workers))
        for thread_id in threads:
            try:
                if phase == "start":
                    state = agent.invoke(user("mail them"), thread(thread_id))
                else:
                    state = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), thread(thread_id))
                outcome = "paused" if "__interrupt__" in state else "done"
                print(json.dumps({"thread": thread_id, "outcome": outcome}), flush=True)
            except PauseClaimed as claimed:
                print(json.dumps({"thread": thread_id, "outcome": "claimed", "message": str(claimed)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
