"""The middleware's ``network`` option: the program gets fetch() with the host's secrets, the
system prompt tells the model what it may reach (never the secret), and a thread's saved VM keeps
fetch across turns. Runs against a real server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _http_server import Reply, Seen, serve
from deepagents import create_deep_agent
from langchain_core.messages import SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from fetch_approval_process import APPROVAL_PROGRAM, approving_network
from scripted_agents import ScriptedChatModel, eval_turn, final, last_tool_content, thread, user

from quickbox import Network, Secret
from quickbox.langchain import CodeInterpreterMiddleware

TOKEN = "agent-secret-0b7e"
HERE = Path(__file__).parent


def weather(seen: Seen) -> Reply:
    authorized = seen.headers.get("authorization") == f"Bearer {TOKEN}"
    body = {"city": seen.path.rsplit("/", 1)[-1], "celsius": 21} if authorized else {"error": "unauthorized"}
    return Reply(status=200 if authorized else 401, body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})


def network_for(origin: str, port: int) -> Network:
    return Network(allow=[origin + "/weather/"],
                   secrets=[Secret(host=f"127.0.0.1:{port}", header="Authorization", prefix="Bearer ",
                                   value_env="QUICKBOX_AGENT_TOKEN")])


async def test_the_program_fetches_with_the_hosts_secret_and_the_prompt_says_what_is_allowed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUICKBOX_AGENT_TOKEN", TOKEN)
    with serve(weather) as server:
        program = (f"const r = await fetch('{server.url('/weather/oslo')}'); const w = await r.json();"
                   f"const other = await fetch('{server.url('/admin')}').catch(e => e.message);"
                   "[r.status, w.city, w.celsius, other.includes('refused by the network policy')]")
        model = ScriptedChatModel(turns=[eval_turn(program), final()])
        agent = create_deep_agent(model=model, middleware=[CodeInterpreterMiddleware(
            network=network_for(server.origin, server.port))])
        state = await agent.ainvoke(user("weather in Oslo?"))
        assert last_tool_content(state) == '<result>[200, "oslo", 21, true]</result>'
        assert [s.path for s in server.seen] == ["/weather/oslo"]
        system = model.seen[0][0]
        assert isinstance(system, SystemMessage)
        text = str(system.content)
        assert "`fetch(url, init)` works" in text
        assert f"`{server.origin}/weather/`" in text
        assert f"`127.0.0.1:{server.port}` (header `Authorization`)" in text
        assert TOKEN not in text and TOKEN not in json.dumps([str(m.content) for m in state["messages"]])


def test_fetch_survives_the_threads_saved_vm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUICKBOX_AGENT_TOKEN", TOKEN)
    with serve(weather) as server:
        first = f"async function temp(city) {{ return (await (await fetch('{server.url('/weather/')}' + city)).json()).celsius }} await temp('rome')"
        model = ScriptedChatModel(turns=[eval_turn(first), final(), eval_turn("await temp('bergen')"), final()])
        agent = create_deep_agent(model=model, checkpointer=InMemorySaver(), middleware=[CodeInterpreterMiddleware(
            network=network_for(server.origin, server.port))])
        assert last_tool_content(agent.invoke(user("rome"), thread("t"))) == "<result>21</result>"
        assert last_tool_content(agent.invoke(user("bergen"), thread("t"))) == "<result>21</result>"
        assert [s.path for s in server.seen] == ["/weather/rome", "/weather/bergen"]


def test_without_a_network_the_prompt_says_there_is_none() -> None:
    model = ScriptedChatModel(turns=[eval_turn("typeof fetch"), final()])
    state = create_deep_agent(model=model, middleware=[CodeInterpreterMiddleware()]).invoke(user("?"))
    assert last_tool_content(state) == "<result>undefined</result>"
    assert "No filesystem, network" in str(model.seen[0][0].content)


def orders(seen: Seen) -> Reply:
    return Reply(status=201 if seen.method == "POST" else 200, body=seen.method.encode())


@pytest.mark.parametrize("decision, expected", [
    ({"type": "approve"}, '<result>["GET", 201]</result>'),
    ({"type": "reject", "message": "not today"}, "not today"),
])
def test_a_request_the_policy_holds_for_review_pauses_the_program_until_the_reviewer_decides(
        decision: dict[str, str], expected: str) -> None:
    with serve(orders) as server:
        model = ScriptedChatModel(turns=[eval_turn(APPROVAL_PROGRAM.format(url=server.url("/orders"))), final()])
        agent = create_deep_agent(model=model, checkpointer=InMemorySaver(), middleware=[CodeInterpreterMiddleware(
            network=approving_network(server.origin))])
        (pause,) = agent.invoke(user("order"), thread("t"))["__interrupt__"]
        [action] = pause.value["action_requests"]
        assert action["name"] == "fetch"
        assert action["args"]["method"] == "POST" and action["args"]["url"] == server.url("/orders")
        assert "POST " + server.url("/orders") in action["description"] and "one book" in action["description"]
        assert pause.value["review_configs"] == [{"action_name": "fetch", "allowed_decisions": ["approve", "reject"]}]
        assert [s.method for s in server.seen] == ["GET"]  # the held request has not been sent
        with pytest.raises(Exception, match="does not match any of the expected tags: 'approve', 'reject'"):
            agent.invoke(Command(resume={"decisions": [{"type": "edit", "edited_action": {
                "name": "fetch", "args": {"method": "POST", "url": server.url("/elsewhere")}}}]}), thread("t"))
        done = agent.invoke(Command(resume={"decisions": [decision]}), thread("t"))
        assert expected in last_tool_content(done)
        sent = [s.method for s in server.seen]
        assert sent == (["GET", "POST"] if decision["type"] == "approve" else ["GET"])


def test_the_prompt_says_which_requests_wait_for_approval() -> None:
    model = ScriptedChatModel(turns=[final()])
    create_deep_agent(model=model, middleware=[CodeInterpreterMiddleware(network=Network(
        allow=["api.example.com"], approve=["POST api.example.com/orders"], approve_unsafe_methods=True))]
                      ).invoke(user("?"))
    text = str(model.seen[0][0].content)
    assert ("Requests matching `POST api.example.com/orders` and every request with a method other than GET, "
            "HEAD or OPTIONS wait for a person's approval") in text


def test_an_approved_request_is_sent_once_by_the_process_that_resumes(tmp_path: Path) -> None:
    """Process A pauses at the held POST and exits; process B, with the same SQLite checkpointer
    and no store, resumes with the approval and sends it; the GET before the pause is not
    repeated."""
    with serve(orders) as server:
        def run(*args: str) -> dict[str, Any]:
            done = subprocess.run([sys.executable, str(HERE / "fetch_approval_process.py"), str(tmp_path),
                                   server.origin, *args], capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
            result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
            return result

        started = run("start")
        assert started["interrupt"]["action_requests"][0]["args"]["method"] == "POST"
        assert [s.method for s in server.seen] == ["GET"]
        resumed = run("resume", json.dumps({"decisions": [{"type": "approve"}]}))
        assert resumed["result"] == '<result>["GET", 201]</result>'
        assert [s.method for s in server.seen] == ["GET", "POST"]
