"""A pause survives in a real PostgreSQL server: process A runs until the pause and exits, process
B resumes from PostgresSaver alone (no store) and finishes, and nothing runs twice.

The fixture creates a throwaway cluster (postgres_server.py: initdb into a temporary directory,
postgres on a free loopback port, stopped afterwards). It needs the server binaries (Debian
package ``postgresql``, installed by scripts/install-deps.sh); without them the test is skipped
and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_server import missing, postgres_server
from scripted_agents import Effects

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server() as dsn:
        yield dsn


def _pause_records(dsn: str, thread_id: str) -> int:
    """Paused programs in the thread's latest checkpoint (graph state, kept by PostgresSaver alone)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(dsn) as saver:
        latest = saver.get_tuple({"configurable": {"thread_id": thread_id}})
        assert latest is not None
        return len(latest.checkpoint["channel_values"].get("_quickbox_pauses") or {})


def test_process_b_resumes_what_process_a_paused(postgres_dsn: str, effects: Effects, approval_process: Any) -> None:
    where = f"postgres:{postgres_dsn}"
    started = approval_process(where, "pg-thread", str(effects.path), "start")
    assert len(started["interrupt"]["action_requests"]) == 3
    assert sorted(effects.lines()) == ["lookup Ada", "lookup Bob", "lookup Cy", "research"]  # lookups run at once
    assert _pause_records(postgres_dsn, "pg-thread") == 1

    decisions = {"decisions": [{"type": "approve"}, {"type": "approve"}, {"type": "reject", "message": "skip Cy"}]}
    resumed = approval_process(where, "pg-thread", str(effects.path), "resume", json.dumps(decisions))
    assert resumed["answer"] == "all done" and not resumed["interrupted"]
    assert '"not sent: the reviewer rejected the call to \'send_email\': skip Cy"' in resumed["result"]
    assert sorted(effects.lines()) == sorted(["lookup Ada", "lookup Bob", "lookup Cy", "research",
                                              "send ada@example.com", "send bob@example.com"])
    assert _pause_records(postgres_dsn, "pg-thread") == 0


def _workers(phase: str, dsn: str, effects: Effects, barrier: Path, assignments: list[list[str]],
             env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Runs one worker process per assignment at the same moment; their JSON lines."""
    command = [sys.executable, str(HERE / "worker_process.py"), dsn, str(effects.path), str(barrier),
               str(len(assignments)), phase]
    processes = [subprocess.Popen([*command, *threads], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, **(env or {})})
                 for threads in assignments]
    lines = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"a worker failed:\n{err}"
        lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return lines


def test_many_workers_resume_many_threads_and_every_approved_call_runs_exactly_once(
        postgres_dsn: str, effects: Effects, tmp_path: Path) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver
    from worker_process import build_agent

    threads = [f"mail-{i}" for i in range(16)]
    started = _workers("start", postgres_dsn, effects, tmp_path / "start", [threads[k::4] for k in range(4)])
    assert sorted(r["thread"] for r in started if r["outcome"] == "paused") == sorted(threads)

    # Four workers resume all sixteen threads at once; workers 0 and 1 both resume mail-0 first,
    # at the same moment (each waits for the others before its first resume). mail-0's approved
    # call takes 2 s, so whichever worker claims it first still holds it when the other arrives:
    # with 50 ms, a worker that started late on this 2-core machine found the turn over, and
    # the test, not the claim, failed.
    assignments = [threads[k::4] for k in range(4)]
    assignments[1] = ["mail-0", *assignments[1]]
    resumed = _workers("resume", postgres_dsn, effects, tmp_path / "resume", assignments,
                       env={"SLOW_SEND": "mail-0=2"})
    contested = sorted(r["outcome"] for r in resumed if r["thread"] == "mail-0")
    assert contested == ["claimed", "done"], resumed
    assert all(r["outcome"] == "done" for r in resumed if r["thread"] != "mail-0"), resumed

    done = [line for line in effects.lines() if not line.startswith("sending")]
    assert sorted(done) == sorted([f"lookup {t}" for t in threads] + [f"send {t}" for t in threads])
    with PostgresSaver.from_conn_string(postgres_dsn) as saver:
        agent = build_agent(effects.path, saver)
        for thread_id in threads:  # none lost, none stuck: every thread finished its turn
            state = agent.get_state({"configurable": {"thread_id": thread_id}})
            assert not state.next and not state.interrupts and state.values["_quickbox_pauses"] == {}
            assert state.values["messages"][-1].content == "all done"


def test_a_worker_that_dies_mid_resume_leaves_the_pause_claimed_until_released(
        postgres_dsn: str, effects: Effects, tmp_path: Path) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    from quickbox.langchain import release_pause_claims

    _workers("start", postgres_dsn, effects, tmp_path / "start", [["dies"]])
    command = [sys.executable, str(HERE / "worker_process.py"), postgres_dsn, str(effects.path),
               str(tmp_path / "resume"), "1", "resume", "dies"]
    dying = subprocess.Popen(command, env={**os.environ, "SEND_SECONDS": "60"}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while "sending dies" not in effects.lines():  # the approved call has begun
        assert time.monotonic() < deadline and dying.poll() is None, "the worker never reached the approved call"
        time.sleep(0.01)
    dying.kill()
    dying.wait()

    (refused,) = _workers("resume", postgres_dsn, effects, tmp_path / "again", [["dies"]])
    assert refused["outcome"] == "claimed" and "release_pause_claims" in refused["message"]
    assert effects.lines().count("sending dies") == 1  # nothing ran a second time on its own

    with PostgresSaver.from_conn_string(postgres_dsn) as saver:
        assert release_pause_claims(saver, "dies") == 1
    (finished,) = _workers("resume", postgres_dsn, effects, tmp_path / "released", [["dies"]])
    assert finished["outcome"] == "done"
    assert effects.lines().count("sending dies") == 2 and effects.lines().count("send dies") == 1


async def test_two_concurrent_async_resumes_of_one_thread_run_the_approved_call_once(
        postgres_dsn: str, effects: Effects) -> None:
    import asyncio

    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.types import Command
    from scripted_agents import thread, user
    from worker_process import build_agent

    from quickbox.langchain import PauseClaimed

    async with AsyncPostgresSaver.from_conn_string(postgres_dsn) as first, \
            AsyncPostgresSaver.from_conn_string(postgres_dsn) as second:  # two connections, as two workers
        await first.setup()
        agents = [build_agent(effects.path, first), build_agent(effects.path, second)]
        await agents[0].ainvoke(user("mail them"), thread("async-race"))
        approve = Command(resume={"decisions": [{"type": "approve"}]})
        outcomes = await asyncio.gather(*(a.ainvoke(approve, thread("async-race")) for a in agents),
                                        return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["PauseClaimed", "dict"], outcomes
    assert next(o for o in outcomes if isinstance(o, dict))["messages"][-1].content == "all done"
    assert all(isinstance(o, (dict, PauseClaimed)) for o in outcomes)
    assert [line for line in effects.lines() if line.startswith("send ")] == ["send async-race"]
