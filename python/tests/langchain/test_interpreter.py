"""The eval tool as the model sees it: output blocks, errors it can act on, and a REPL whose state
persists per thread (or per turn, or not at all) as signed quickbox snapshots in graph state."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pytest
from deepagents import create_deep_agent
from langgraph.checkpoint.memory import InMemorySaver
from scripted_agents import ScriptedChatModel, eval_turn, final, thread, tool_messages, user

from quickbox.langchain import CodeInterpreterMiddleware

VM = "_quickbox_vm"


def run_evals(*turns: list[str] | str, middleware: CodeInterpreterMiddleware | None = None,
              checkpointer: Any = None, thread_id: str = "t") -> tuple[list[str], Any]:
    """Runs one user turn per entry (a program, or several run in sequence) and returns every
    eval result the model received, and the agent."""
    script = []
    for turn in turns:
        script += [eval_turn(code) for code in ([turn] if isinstance(turn, str) else turn)] + [final()]
    model = ScriptedChatModel(turns=script)
    agent = create_deep_agent(model=model, middleware=[middleware or CodeInterpreterMiddleware()],
                              checkpointer=checkpointer or InMemorySaver())
    for _ in turns:
        state = agent.invoke(user("go"), thread(thread_id))
    return [str(m.content) for m in tool_messages(state)], agent


def test_console_output_and_result_come_back_as_blocks() -> None:
    results, _ = run_evals("console.log('total', {a: 1}); console.error('careful'); [1, 'two', {x: null}]")
    assert results == ['<stdout>\ntotal { a: 1 }\ncareful\n</stdout>\n<result>[1, "two", {x: null}]</result>']


def test_a_final_promise_is_awaited_and_top_level_await_works() -> None:
    results, _ = run_evals("const v = await Promise.resolve(20); (async () => v * 2 + 2)()")
    assert results == ["<result>42</result>"]


def test_typescript_runs_with_its_types_stripped_and_errors_point_into_it() -> None:
    results, _ = run_evals("interface Row { n: number }\nconst rows: Row[] = [{ n: 1 }, { n: 2 }];\n"
                           "rows.reduce((a: number, r: Row): number => a + r.n, 0)",
                           "function f(x: string): never {\n  throw new Error(x as string);\n}\nf('no')")
    assert results[0] == "<result>3</result>"
    assert results[1].startswith('<error type="Error">no\n    at f (<eval>:2:')


def test_uncaught_errors_carry_their_name_message_and_stack() -> None:
    results, _ = run_evals("function f() { null.x }\nf()")
    assert results[0].startswith('<error type="TypeError">cannot read property \'x\' of null\n    at f (<eval>:1')


@pytest.mark.parametrize(("program", "kind", "timeout"), [
    ("while (true) {}", "Timeout", 0.3),
    # CPU time enough to fill 16 MiB even on a loaded machine: the memory limit must trip first.
    # The flood is block-scoped, so its memory is free again for the next call: a global holding
    # the whole heap would leave the next parse to luck (it needs a fresh 4 KiB allocator arena
    # whenever one of its block sizes has none with room, docs/limits.md "Memory").
    ("{ const a = []; while (true) a.push('x'.repeat(4096)) }", "OutOfMemory", 5.0),
    ("await new Promise(() => {})", "Deadlock", 0.3),
])
def test_limits_end_as_errors_the_model_can_act_on(program: str, kind: str, timeout: float) -> None:
    middleware = CodeInterpreterMiddleware(timeout=timeout, memory_limit=16 * 1024 * 1024)
    results, _ = run_evals([program, "'still alive'"], middleware=middleware)
    assert results[0].startswith(f'<error type="{kind}">')
    assert results[1] == "<result>still alive</result>"


def test_stdout_result_and_error_are_cut_independently() -> None:
    middleware = CodeInterpreterMiddleware(max_result_chars=60)
    results, _ = run_evals(["for (let i = 0; i < 100; i++) console.log('line ' + i); 'r'.repeat(500)",
                            "console.log('short'); throw new Error('e'.repeat(500))"], middleware=middleware)
    stdout, result = results[0].split("\n</stdout>\n")
    assert stdout.startswith("<stdout>\nline 0\nline 1") and "more characters cut]" in stdout
    assert len(stdout.removeprefix("<stdout>\n")) == 60
    assert result.startswith("<result>rrrr") and len(result.removeprefix("<result>").removesuffix("</result>")) == 60
    assert results[1].startswith("<stdout>\nshort\n</stdout>\n<error type=\"Error\">eeee")


def test_values_that_cannot_leave_the_sandbox_are_described() -> None:
    results, _ = run_evals(["function add(a, b) { return a + b }\nadd", "new Map([[1, 2]])"])
    assert results == ['<result kind="handle">[Function]</result>', '<result kind="handle">[Map]</result>']


def test_capture_console_false_drops_output() -> None:
    results, _ = run_evals("console.log('hidden'); 1", middleware=CodeInterpreterMiddleware(capture_console=False))
    assert results == ["<result>1</result>"]


def test_thread_mode_keeps_declarations_across_calls_and_turns_and_allows_redeclaring() -> None:
    results, _ = run_evals(["const base = 40; let f = (x) => x + base; class K { v() { return 1 } }", "f(2)"],
                           ["const base = 1; class K { v() { return 2 } }; [f(2), new K().v()]"])
    assert results == ["<result>undefined</result>", "<result>42</result>", "<result>[3, 2]</result>"]


def test_turn_mode_keeps_declarations_only_within_a_turn() -> None:
    results, _ = run_evals(["var kept = 1", "kept + 1"], ["typeof kept"],
                           middleware=CodeInterpreterMiddleware(mode="turn"))
    assert results[1:] == ["<result>2</result>", "<result>undefined</result>"]


def test_call_mode_starts_every_call_fresh() -> None:
    results, _ = run_evals(["var gone = 1", "typeof gone"], middleware=CodeInterpreterMiddleware(mode="call"))
    assert results[1] == "<result>undefined</result>"


def test_the_vm_lives_in_graph_state_as_a_small_snapshot() -> None:
    _, agent = run_evals("var data = Array.from({length: 100}, (_, i) => i)")
    saved = agent.get_state(thread("t")).values[VM]
    assert isinstance(saved, bytes) and len(saved) < 16 * 1024


def test_two_evals_in_one_model_turn_both_run() -> None:
    model = ScriptedChatModel(turns=[eval_turn("var a = 1; a", "var b = 2; b"), final()])
    agent = create_deep_agent(model=model, middleware=[CodeInterpreterMiddleware()], checkpointer=InMemorySaver())
    state = agent.invoke(user("go"), thread("t"))
    assert sorted(str(m.content) for m in tool_messages(state)) == ["<result>1</result>", "<result>2</result>"]


async def test_async_agents_get_the_same_interpreter() -> None:
    model = ScriptedChatModel(turns=[eval_turn("var n = 41"), eval_turn("n + 1"), final()])
    agent = create_deep_agent(model=model, middleware=[CodeInterpreterMiddleware()], checkpointer=InMemorySaver())
    state = await agent.ainvoke(user("go"), thread("t"))
    assert [str(m.content) for m in tool_messages(state)] == ["<result>undefined</result>", "<result>42</result>"]


def _tamper(agent: Any, thread_id: str, saved: bytes) -> None:
    agent.update_state(thread(thread_id), {VM: saved})


@pytest.mark.parametrize("attack", ["altered", "other thread", "unsigned"])
def test_a_signed_vm_that_was_tampered_with_is_refused_and_never_run(
        attack: str, caplog: pytest.LogCaptureFixture) -> None:
    def middleware() -> CodeInterpreterMiddleware:
        return CodeInterpreterMiddleware(snapshot_signing_key=b"k" * 32)
    model = ScriptedChatModel(turns=[eval_turn("var secret = 'kept'"), final(), eval_turn("typeof secret"), final()])
    agent = create_deep_agent(model=model, middleware=[middleware()], checkpointer=InMemorySaver())
    agent.invoke(user("go"), thread("victim"))
    saved = agent.get_state(thread("victim")).values[VM]
    if attack == "altered":
        forged = bytearray(saved)
        forged[len(forged) // 2] ^= 1
        _tamper(agent, "victim", bytes(forged))
    elif attack == "other thread":
        model.turns[:2] = [eval_turn("var secret = 'from elsewhere'"), final()]
        other = create_deep_agent(model=model, middleware=[middleware()], checkpointer=InMemorySaver())
        other.invoke(user("go"), thread("elsewhere"))
        _tamper(agent, "victim", other.get_state(thread("elsewhere")).values[VM])
    else:
        unsigned = create_deep_agent(model=ScriptedChatModel(turns=[eval_turn("var secret = 1"), final()]),
                                     middleware=[CodeInterpreterMiddleware()], checkpointer=InMemorySaver())
        unsigned.invoke(user("go"), thread("victim"))
        _tamper(agent, "victim", unsigned.get_state(thread("victim")).values[VM])
    with caplog.at_level(logging.WARNING, logger="quickbox.langchain"):
        state = agent.invoke(user("again"), thread("victim"))
    assert str(tool_messages(state)[-1].content) == "<result>undefined</result>"
    assert "was refused" in caplog.text and "snapshot refused" in caplog.text


def test_accepts_the_keyword_arguments_of_langchain_quickjs() -> None:
    parameters = inspect.signature(CodeInterpreterMiddleware).parameters
    defaults = {name: p.default for name, p in parameters.items()}
    assert defaults["memory_limit"] == 64 * 1024 * 1024 and defaults["timeout"] == 5.0
    assert defaults["max_ptc_calls"] == 256 and defaults["tool_name"] == "eval"
    assert defaults["max_result_chars"] == 4000 and defaults["capture_console"] is True
    assert defaults["subagents"] is True and defaults["ptc"] is None and defaults["mode"] is None
    for name in ("max_snapshot_bytes", "snapshot_signing_key", "interrupt_on", "max_concurrent_subagents",
                 "max_subagent_calls", "wall_timeout"):
        assert defaults[name] is None
    assert repr(defaults["max_subagent_concurrency"]) == "<not given>"  # 32, as max_concurrent_subagents
    middleware = CodeInterpreterMiddleware(
        memory_limit=32 << 20, timeout=2, max_ptc_calls=None, tool_name="js", max_result_chars=100,
        capture_console=False, subagents=False, max_subagent_concurrency=4, ptc=[], mode="turn",
        max_snapshot_bytes=1 << 20, snapshot_signing_key="secret")
    assert [t.name for t in middleware.tools] == ["js"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "forever"}, "mode must be one of 'thread', 'turn', 'call', got 'forever'"),
    ({"max_concurrent_subagents": 2, "max_subagent_concurrency": 3}, "disagree"),
    ({"max_ptc_calls": 0}, r"max_ptc_calls must be >= 1 or None \(a whole number\), got 0"),
    ({"max_result_chars": 0}, r"max_result_chars must be >= 1 \(a whole number\), got 0"),
    ({"max_subagent_concurrency": None}, "max_subagent_concurrency must be a positive integer, got None"),
    ({"max_concurrent_subagents": 1.5}, "max_concurrent_subagents must be a positive integer, got 1.5"),
    ({"ptc": ["task"]}, "cannot expose the subagent `task` tool"),
    ({"interrupt_on": {"send": {"allowed_decisions": []}}}, "non-empty 'allowed_decisions'"),
    ({"snapshot_signing_key": ""}, "snapshot_signing_key must be a non-empty str or bytes"),
])
def test_refuses_configurations_that_cannot_work(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        CodeInterpreterMiddleware(**kwargs)
