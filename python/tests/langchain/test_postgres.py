"""A pause survives in a real PostgreSQL server: process A runs until the pause and exits, process
B resumes from PostgresSaver alone (no store) and finishes, and nothing runs twice.

The fixture creates a throwaway cluster (initdb into a temporary directory, postgres on a free
loopback port, stopped afterwards). It needs the server binaries (Debian package ``postgresql``,
installed by scripts/install-deps.sh); without them the test is skipped and says so.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from scripted_agents import Effects


def _server_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian keeps them off PATH
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
                    "'postgresql' (scripts/install-deps.sh does)")
    base = tempfile.mkdtemp(prefix="quickbox-pg-")
    run_as = None
    if os.geteuid() == 0:  # the server refuses to run as root: use the account the package creates
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' account to run the server as")
        os.chown(base, account.pw_uid, account.pw_gid)
        run_as = account.pw_name
    data, port = os.path.join(base, "data"), _free_port()
    quiet: dict[str, Any] = {"check": True, "user": run_as, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    try:
        subprocess.run([initdb, "-D", data, "-U", "quickbox", "--auth=trust", "--locale=C", "-E", "UTF8",
                        "--no-sync"], **quiet)
        subprocess.run([pg_ctl, "-D", data, "-l", os.path.join(base, "server.log"), "-w", "-t", "60",
                        "-o", f"-p {port} -h 127.0.0.1 -k {base} -F", "start"], **quiet)
        yield f"postgresql://quickbox@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], **{**quiet, "check": False})
        shutil.rmtree(base, ignore_errors=True)


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
