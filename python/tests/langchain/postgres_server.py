"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary directory, ``postgres`` on
a free loopback port, stopped and deleted afterwards. Needs the server binaries (Debian package
``postgresql``, installed by scripts/install-deps.sh).

Used by test_postgres.py and by scripts/langchain_quickjs_compat.py (which runs
langchain-quickjs's own PostgreSQL test against it instead of a Docker container)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from typing import Any


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


def missing() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if _server_binary("initdb") is None or _server_binary("pg_ctl") is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
                "'postgresql' (scripts/install-deps.sh does)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' account to run the server as"
    return None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Starts a server and yields its DSN (user ``quickbox``, database ``postgres``, no password).
    Call ``missing()`` first."""
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    assert initdb is not None and pg_ctl is not None, missing()
    base = tempfile.mkdtemp(prefix="quickbox-pg-")
    run_as = None
    if os.geteuid() == 0:  # the server refuses to run as root: use the account the package creates
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
        run_as = account.pw_name
    data, port = os.path.join(base, "data"), _free_port()
    # The server is not the code under test: under `make test-asan` it must not inherit the
    # sanitizer runtime preloaded into this interpreter (initdb hangs with it).
    server_env = {k: v for k, v in os.environ.items()
                  if k != "LD_PRELOAD" and not k.endswith("SAN_OPTIONS")}
    quiet: dict[str, Any] = {"check": True, "user": run_as, "stdout": subprocess.DEVNULL,
                             "stderr": subprocess.PIPE, "env": server_env}
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
