"""The middleware's ``network`` option: the program gets fetch() with the host's secrets, the
system prompt tells the model what it may reach (never the secret), and a thread's saved VM keeps
fetch across turns. Runs against a real server on loopback."""

from __future__ import annotations

import json

import pytest
from _http_server import Reply, Seen, serve
from deepagents import create_deep_agent
from langchain_core.messages import SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from scripted_agents import ScriptedChatModel, eval_turn, final, last_tool_content, thread, user

from quickbox import Network, Secret
from quickbox.langchain import CodeInterpreterMiddleware

TOKEN = "agent-secret-0b7e"


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


def test_approval_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot pause a fetch"):
        CodeInterpreterMiddleware(network=Network(allow=["*"], approve_unsafe_methods=True))
