"""Exactly-once continuation of a paused program when several workers share one checkpointer.

LangGraph itself does not stop two runs from resuming the same thread at once: both would load the
same checkpoint and both would run the approved calls. So a pause round (thread, eval call,
snapshot digest) is *claimed* in the checkpointer's own database before anything runs:

1. the step that receives the reviewer's answer claims the round with a fresh owner token (an
   atomic insert) and writes the token next to the answer; a second run fails its claim and
   ends with ``PauseClaimed`` before it writes a checkpoint;
2. the step that continues the program *starts* the claim (an atomic upsert, once per round)
   before any approved call runs; a run that finds it started, or claimed by another owner,
   ends with ``PauseClaimed``. A round with no claim (released) can be started.

A claim that was never started (its worker died between the two steps) can be taken over after
``_CLAIM_LEASE_SECONDS``. A started one stays: a worker that died mid-resume may have run some
approved calls, so the round is not run again by itself (see docs/langchain.md for the release).

PostgresSaver / AsyncPostgresSaver and SqliteSaver / AsyncSqliteSaver keep claims in a table
``quickbox_pause_claims`` of their database; any other checkpointer gets claims in this process
only. The savers' connection helpers used here (``_cursor``, ``cursor``, ``lock``) are their
internals, pinned and covered by the many-worker test.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from typing import Any

_CLAIM_LEASE_SECONDS = 60.0
_TABLE = "quickbox_pause_claims"
_SEPARATOR = "\x1f"  # PostgreSQL text cannot hold NUL
_ready: set[int] = set()  # checkpointers whose claims table exists


class PauseClaimed(RuntimeError):
    """Another run already took this pause: it was answered or is being continued elsewhere."""


def round_key(thread_id: str, call_id: str, snapshot: bytes) -> str:
    """The identity of one pause round."""
    return f"{thread_id}{_SEPARATOR}{call_id}{_SEPARATOR}{hashlib.sha256(snapshot).hexdigest()}"


class _LocalClaims:
    """Claims for checkpointers without a database of their own (one process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[str, bool, float]] = {}

    def claim(self, key: str, owner: str) -> bool:
        with self._lock:
            current = self._claims.get(key)
            if current is not None and (current[1] or time.time() - current[2] < _CLAIM_LEASE_SECONDS):
                return False
            self._claims[key] = (owner, False, time.time())
            return True

    def start(self, key: str, owner: str) -> bool:
        with self._lock:
            current = self._claims.get(key)
            if current is not None and (current[0] != owner or current[1]):
                return False
            self._claims[key] = (owner, True, time.time())
            return True

    def release(self, prefix: str) -> int:
        with self._lock:
            keys = [k for k in self._claims if k.startswith(prefix)]
            for key in keys:
                del self._claims[key]
            return len(keys)


_LOCAL_BY_SAVER: weakref.WeakKeyDictionary[Any, _LocalClaims] = weakref.WeakKeyDictionary()
_LOCAL_LOCK = threading.Lock()
_WITHOUT_SAVER = _LocalClaims()


def _local(checkpointer: Any) -> _LocalClaims:
    """The in-process claims of one checkpointer (two in-memory savers never share threads)."""
    if checkpointer is None:
        return _WITHOUT_SAVER
    with _LOCAL_LOCK:
        claims = _LOCAL_BY_SAVER.get(checkpointer)
        if claims is None:
            claims = _LOCAL_BY_SAVER[checkpointer] = _LocalClaims()
        return claims

_PG_CREATE = (f"CREATE TABLE IF NOT EXISTS {_TABLE} (key text PRIMARY KEY, owner text NOT NULL, "
              "started boolean NOT NULL DEFAULT false, claimed_at double precision NOT NULL)")
_PG_CLAIM = (f"INSERT INTO {_TABLE} (key, owner, claimed_at) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
             f"SET owner = excluded.owner, claimed_at = excluded.claimed_at "
             f"WHERE NOT {_TABLE}.started AND {_TABLE}.claimed_at < %s RETURNING owner")
_PG_START = (f"INSERT INTO {_TABLE} (key, owner, started, claimed_at) VALUES (%s, %s, true, %s) ON CONFLICT (key) "
             f"DO UPDATE SET started = true WHERE {_TABLE}.owner = excluded.owner AND NOT {_TABLE}.started "
             "RETURNING key")
_PG_RELEASE = f"DELETE FROM {_TABLE} WHERE key LIKE %s"
_SQLITE_CREATE = (f"CREATE TABLE IF NOT EXISTS {_TABLE} (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                  "started INTEGER NOT NULL DEFAULT 0, claimed_at REAL NOT NULL)")
_SQLITE_CLAIM = (f"INSERT INTO {_TABLE} (key, owner, claimed_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                 f"SET owner = excluded.owner, claimed_at = excluded.claimed_at "
                 f"WHERE NOT {_TABLE}.started AND {_TABLE}.claimed_at < ? RETURNING owner")
_SQLITE_START = (f"INSERT INTO {_TABLE} (key, owner, started, claimed_at) VALUES (?, ?, 1, ?) ON CONFLICT (key) "
                 f"DO UPDATE SET started = 1 WHERE {_TABLE}.owner = excluded.owner AND NOT {_TABLE}.started "
                 "RETURNING key")
_SQLITE_RELEASE = f"DELETE FROM {_TABLE} WHERE key LIKE ?"


def _kind(checkpointer: Any) -> str:
    module = type(checkpointer).__module__
    if module.startswith("langgraph.checkpoint.postgres"):
        return "postgres-async" if module.endswith(".aio") else "postgres"
    if module.startswith("langgraph.checkpoint.sqlite"):
        return "sqlite-async" if module.endswith(".aio") else "sqlite"
    return "local"


def _escape_like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def claim(checkpointer: Any, key: str, owner: str) -> bool:
    """Claims a round for ``owner`` (synchronous checkpointers and the in-process fallback)."""
    kind, now = _kind(checkpointer), time.time()
    if kind == "postgres":
        _pg_setup(checkpointer)
        with checkpointer._cursor() as cur:
            row = cur.execute(_PG_CLAIM, (key, owner, now, now - _CLAIM_LEASE_SECONDS)).fetchone()
            return row is not None and _first(row) == owner
    if kind == "sqlite":
        with checkpointer.cursor() as cur:
            cur.execute(_SQLITE_CREATE)
            row = cur.execute(_SQLITE_CLAIM, (key, owner, now, now - _CLAIM_LEASE_SECONDS)).fetchone()
            return row is not None and row[0] == owner
    return _local(checkpointer).claim(key, owner)


def start(checkpointer: Any, key: str, owner: str) -> bool:
    """Marks a claimed round as being continued; True once per round."""
    kind = _kind(checkpointer)
    if kind == "postgres":
        _pg_setup(checkpointer)
        with checkpointer._cursor() as cur:
            return cur.execute(_PG_START, (key, owner, time.time())).fetchone() is not None
    if kind == "sqlite":
        with checkpointer.cursor() as cur:
            cur.execute(_SQLITE_CREATE)
            return cur.execute(_SQLITE_START, (key, owner, time.time())).fetchone() is not None
    return _local(checkpointer).start(key, owner)


async def aclaim(checkpointer: Any, key: str, owner: str) -> bool:
    kind, now = _kind(checkpointer), time.time()
    if kind == "postgres-async":
        await _apg_setup(checkpointer)
        async with checkpointer._cursor() as cur:
            row = await (await cur.execute(_PG_CLAIM, (key, owner, now, now - _CLAIM_LEASE_SECONDS))).fetchone()
            return row is not None and _first(row) == owner
    if kind == "sqlite-async":
        async with checkpointer.lock, checkpointer.conn.cursor() as cur:
            await cur.execute(_SQLITE_CREATE)
            await cur.execute(_SQLITE_CLAIM, (key, owner, now, now - _CLAIM_LEASE_SECONDS))
            row = await cur.fetchone()
            await checkpointer.conn.commit()
            return row is not None and row[0] == owner
    if kind == "local":
        return _local(checkpointer).claim(key, owner)
    return await asyncio.to_thread(claim, checkpointer, key, owner)


async def astart(checkpointer: Any, key: str, owner: str) -> bool:
    kind = _kind(checkpointer)
    if kind == "postgres-async":
        await _apg_setup(checkpointer)
        async with checkpointer._cursor() as cur:
            return await (await cur.execute(_PG_START, (key, owner, time.time()))).fetchone() is not None
    if kind == "sqlite-async":
        async with checkpointer.lock, checkpointer.conn.cursor() as cur:
            await cur.execute(_SQLITE_CREATE)
            await cur.execute(_SQLITE_START, (key, owner, time.time()))
            row = await cur.fetchone()
            await checkpointer.conn.commit()
            return row is not None
    if kind == "local":
        return _local(checkpointer).start(key, owner)
    return await asyncio.to_thread(start, checkpointer, key, owner)


def release(checkpointer: Any, thread_id: str) -> int:
    """Forgets every claim of a thread (after a worker died mid-resume, to accept running its
    approved calls again); returns how many were dropped."""
    prefix, kind = _escape_like(f"{thread_id}{_SEPARATOR}"), _kind(checkpointer)
    if kind == "postgres":
        _pg_setup(checkpointer)
        with checkpointer._cursor() as cur:
            return int(cur.execute(_PG_RELEASE, (prefix,)).rowcount)
    if kind == "sqlite":
        with checkpointer.cursor() as cur:
            cur.execute(_SQLITE_CREATE)
            return int(cur.execute(_SQLITE_RELEASE.replace("?", "? ESCAPE '\\'"), (prefix,)).rowcount)
    return _local(checkpointer).release(f"{thread_id}{_SEPARATOR}")


def _pg_setup(checkpointer: Any) -> None:
    """Creates the claims table once per checkpointer; workers creating it at the same moment
    race inside PostgreSQL's catalog, and the loser's error only says it exists now."""
    if id(checkpointer) in _ready:
        return
    import psycopg

    try:
        with checkpointer._cursor() as cur:
            cur.execute(_PG_CREATE)
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        pass
    _ready.add(id(checkpointer))


async def _apg_setup(checkpointer: Any) -> None:
    if id(checkpointer) in _ready:
        return
    import psycopg

    try:
        async with checkpointer._cursor() as cur:
            await cur.execute(_PG_CREATE)
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        pass
    _ready.add(id(checkpointer))


def _first(row: Any) -> Any:
    return row["owner"] if isinstance(row, dict) else row[0]
