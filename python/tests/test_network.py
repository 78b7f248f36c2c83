"""fetch() from Python: a Runtime(network=Network(...)) gives contexts fetch() under a policy,
with secrets the program never sees, approvals that survive a process, and https with a CA the
test makes. Every test runs against a real server on loopback (tests/_http_server.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _http_server import Reply, Seen, make_test_ca, serve

import quickbox
from quickbox import InvalidInputError, Network, Secret

TOKEN = "py-secret-token-5d1c"


def echo(seen: Seen) -> Reply:
    body = {"method": seen.method, "path": seen.path, "auth": seen.headers.get("authorization"),
            "body": seen.body.decode()}
    return Reply(body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def test_contexts_have_no_fetch_without_a_network(ctx: quickbox.Context) -> None:
    assert ctx.eval("typeof fetch") == "undefined"


def test_a_network_gives_fetch_under_its_policy() -> None:
    with serve(echo) as server, quickbox.Runtime(network=Network(allow=[server.origin + "/"])) as rt, \
            rt.new_context() as ctx:
        assert rt.network is not None and rt.network.allow == (server.origin + "/",)
        got = ctx.eval(f"const r = await fetch('{server.url('/a')}', {{method: 'POST', body: 'hi'}});"
                       "[r.status, await r.json()]")
        assert got == [200, {"method": "POST", "path": "/a", "auth": None, "body": "hi"}]
        refused = ctx.eval("try { await fetch('https://example.com/') } catch (e) { e.name + ': ' + e.message }")
        assert refused.startswith("TypeError: fetch to https://example.com/ was refused by the network policy")
        entry = ctx.audit_log[0]
        assert entry.capability == "fetch" and entry.outcome == "ok"
        assert entry.requests[0].method == "POST"
        assert entry.requests[0].url == server.url("/a")
        assert entry.requests[0].status == 200
        assert entry.requests[0].request_bytes == 2
    assert len(server.seen) == 1


def test_secrets_are_attached_and_never_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUICKBOX_PY_TOKEN", TOKEN)

    def auth_length(seen: Seen) -> Reply:  # says that the header came, not what it was
        return Reply(body=str(len(seen.headers.get("authorization", ""))).encode())

    with serve(auth_length) as server:
        network = Network(allow=[server.origin + "/"],
                          secrets=[Secret(host=f"127.0.0.1:{server.port}", header="Authorization", prefix="Bearer ",
                                          value_env="QUICKBOX_PY_TOKEN")])
        with quickbox.Runtime(network=network) as rt, rt.new_context() as ctx:
            got = ctx.eval(f"const r = await fetch('{server.url('/me')}', {{headers: {{Authorization: 'mine'}}}});"
                           f"console.log(new Request('{server.url('/me')}').headers.get('authorization'));"
                           "Number(await r.text())")
            assert got == len("Bearer " + TOKEN)
            assert server.seen[0].headers["authorization"] == "Bearer " + TOKEN
            visible = repr(ctx.console) + repr(ctx.audit_log) + repr(network) + repr(ctx.pending)
            assert TOKEN not in visible
            assert ctx.console[0].text == "null"


def test_a_bad_network_is_refused_where_it_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match=r"allow\[0\]: 'ftp://x' is not a rule"):
        Network(allow=["ftp://x"])
    with pytest.raises(TypeError, match="a list of strings, not one string"):
        Network(allow="example.com")  # type: ignore[arg-type]
    monkeypatch.delenv("QUICKBOX_NOT_SET", raising=False)
    with pytest.raises(InvalidInputError, match="the environment variable QUICKBOX_NOT_SET is not set"):
        Network(secrets=[Secret(host="x.com", header="A", value_env="QUICKBOX_NOT_SET")])
    with pytest.raises(InvalidInputError, match="timeout must be between"):
        Network(timeout=0)
    with pytest.raises(TypeError, match="network must be a quickbox.Network"):
        quickbox.Runtime(network={"allow": ["*"]})  # type: ignore[arg-type]


async def test_fetches_run_concurrently() -> None:
    def slow(seen: Seen) -> Reply:
        time.sleep(0.3)
        return Reply(body=seen.path.encode())

    with serve(slow) as server, quickbox.Runtime(network=Network(allow=[server.origin + "/"])) as rt, \
            rt.new_context() as ctx:
        started = time.monotonic()
        got = await ctx.eval_async("(await Promise.all([1, 2, 3, 4].map(i => "
                                   f"fetch('{server.url('/')}' + i).then(r => r.text())))).join()")
        assert got == "/1,/2,/3,/4"
        assert time.monotonic() - started < 1.0


async def test_the_event_loop_keeps_running_while_a_program_waits_on_the_network() -> None:
    """The program and its wait for the response happen off the event loop: an asyncio server
    running other coroutines is not frozen by one slow request."""
    def slow(seen: Seen) -> Reply:
        time.sleep(0.6)
        return Reply(body=b"late")

    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    with serve(slow) as server, quickbox.Runtime(network=Network(allow=[server.origin + "/"])) as rt, \
            rt.new_context() as ctx:
        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        started = time.monotonic()
        assert await ctx.eval_async(f"await (await fetch('{server.url('/')}')).text()") == "late"
        ended = time.monotonic()
        ticker.cancel()
    during = [t for t in ticks if started < t < ended]
    assert len(during) >= 5, f"the loop ran {len(during)} times in {ended - started:.2f} s"


async def test_an_unsafe_request_waits_for_approval() -> None:
    with serve(echo) as server, \
            quickbox.Runtime(network=Network(allow=[server.origin + "/"], approve_unsafe_methods=True)) as rt, \
            rt.new_context() as ctx:
        result = await ctx.start(f"(await fetch('{server.url('/x')}', {{method: 'DELETE'}})).status")
        assert result.suspended
        [call] = result.pending
        assert call.name == "fetch" and call.needs_approval
        assert call.args[0]["method"] == "DELETE" and call.args[0]["url"] == server.url("/x")
        assert server.seen == []
        ctx.approve(call.id)
        assert (await ctx.resume()).value == 200
        assert [s.method for s in server.seen] == ["DELETE"]


PEER = """
import asyncio, json, sys
import quickbox
from quickbox import Network

origin, state, key = sys.argv[1], sys.argv[2], sys.argv[3].encode()
network = Network(allow=[origin + "/"], approve_unsafe_methods=True)

async def main() -> None:
    with quickbox.Runtime(network=network) as rt:
        with rt.restore(quickbox.Snapshot.from_bytes(open(state, "rb").read()), key=key) as ctx:
            [call] = ctx.pending
            ctx.approve(call.id)
            print(json.dumps((await ctx.resume()).value))

asyncio.run(main())
"""


async def test_an_approved_fetch_runs_once_in_another_process(tmp_path: Path) -> None:
    key = "network test key"
    with serve(echo) as server:
        network = Network(allow=[server.origin + "/"], approve_unsafe_methods=True)
        with quickbox.Runtime(network=network) as rt, rt.new_context() as ctx:
            result = await ctx.start(f"(await (await fetch('{server.url('/pay')}', "
                                     "{method: 'POST', body: '42'})).json()).body")
            assert result.suspended
            (tmp_path / "state").write_bytes(ctx.create_snapshot(key=key.encode()).to_bytes())
        child = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", PEER, server.origin, str(tmp_path / "state"), key],
            capture_output=True, text=True, timeout=60)
        assert child.returncode == 0, child.stderr
        assert json.loads(child.stdout) == "42"
        assert [(s.method, s.path) for s in server.seen] == [("POST", "/pay")]


def test_https_with_a_test_certificate_authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca, certificate, key = make_test_ca(tmp_path)
    monkeypatch.setenv("QUICKBOX_PY_TOKEN", TOKEN)
    with serve(echo, tls=(certificate, key)) as server:
        origin = server.url("", host="localhost")
        secret = Secret(host="localhost", header="Authorization", value_env="QUICKBOX_PY_TOKEN")
        trusted = Network(allow=[origin + "/"], secrets=[secret], ca_file=str(ca))
        with quickbox.Runtime(network=trusted) as rt, rt.new_context() as ctx:
            assert ctx.eval(f"(await (await fetch('{origin}/tls')).json()).path") == "/tls"
        assert server.seen[0].headers["authorization"] == TOKEN
        with quickbox.Runtime(network=Network(allow=[origin + "/"])) as rt, rt.new_context() as ctx:
            failed = ctx.eval(f"try {{ await fetch('{origin}/') }} catch (e) {{ e.message }}")
            assert "certificate" in failed


def test_the_example_calls_its_api_with_a_token_it_never_sees() -> None:
    example = Path(__file__).parents[2] / "examples" / "fetch_api.py"
    done = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "[console] 3 items in stock, worth 345.70" in done.stdout
    assert "it matches the deny rule" in done.stdout and "no allow rule matches it" in done.stdout
    assert "Authorization seen by the program: None" in done.stdout
    assert "token visible anywhere: False" in done.stdout
    assert "order placed: {'order': 1001, 'sku': 'tea-02', 'quantity': 10}" in done.stdout
