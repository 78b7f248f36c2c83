"""ES modules from Python: ``Runtime.set_module_loader(normalize=, load=)`` and
``ctx.eval(code, module=True)``, with the contract quickjs-rs defines (docs/modules.md)."""

from __future__ import annotations

import asyncio
import posixpath
import time
from collections.abc import Callable

import pytest

from quickbox import (Context, InvalidInputError, JSError, MarshalError, Runtime, SourceTransform,
                      default_module_transform_flags)


def flat_loader(sources: dict[str, str]) -> tuple[Callable[[str, str], str | None], Callable[[str], str | None]]:
    """Bare specifiers are names; './x' and '../x' are joined against the importer's directory."""

    def normalize(base: str, spec: str) -> str | None:
        if not spec.startswith("."):
            return spec
        return posixpath.normpath(posixpath.join(posixpath.dirname(base), spec))

    return normalize, sources.get


def test_a_module_eval_returns_its_exports(rt: Runtime, ctx: Context) -> None:
    normalize, load = flat_loader({"math": "export const add = (a, b) => a + b;"})
    rt.set_module_loader(normalize=normalize, load=load)
    assert ctx.eval("import { add } from 'math'; export const r = add(3, 4);", module=True) == {"r": 7}


def test_relative_specifiers_resolve_through_normalize(rt: Runtime, ctx: Context) -> None:
    normalize, load = flat_loader({
        "pkg/main": "import { greet } from './util'; export const msg = greet('world');",
        "pkg/util": "export const greet = (n) => `hi ${n}`;",
    })
    rt.set_module_loader(normalize=normalize, load=load)
    assert ctx.eval("export { msg } from 'pkg/main';", module=True) == {"msg": "hi world"}


def test_without_normalize_the_specifier_is_the_name(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(load={"only": "export const v = 99;"}.get)
    assert ctx.eval("import { v } from 'only'; export const r = v;", module=True) == {"r": 99}


def test_normalize_sees_the_filename_and_is_asked_once_per_edge(rt: Runtime, ctx: Context) -> None:
    calls: list[tuple[str, str]] = []

    def normalize(base: str, spec: str) -> str:
        calls.append((base, spec))
        return spec

    rt.set_module_loader(normalize=normalize, load={"lib": "export const v = 42;"}.get)
    assert ctx.eval("import { v } from 'lib'; export const r = v;", module=True, filename="app.js") == {"r": 42}
    assert calls == [("app.js", "lib")]


def test_dynamic_import_works_in_scripts_and_async_evals(rt: Runtime, ctx: Context) -> None:
    loads: list[str] = []

    def load(name: str) -> str | None:
        loads.append(name)
        return "export default 'dflt'; export const v = 5;" if name == "lib" else None

    rt.set_module_loader(load=load)
    assert ctx.eval("const m = await import('lib'); [m.default, m.v]") == ["dflt", 5]
    assert ctx.eval("(await import('lib')).v * 2") == 10
    assert loads == ["lib"], "a module is loaded once per context"


async def test_an_async_module_eval_returns_none_as_upstream_does(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(load={"lib": "export const v = await Promise.resolve(3);"}.get)
    assert await ctx.eval_async("import { v } from 'lib'; globalThis.seen = v;", module=True) is None
    assert ctx.eval("seen") == 3


def test_the_loader_reaches_contexts_created_before_it_was_set(rt: Runtime) -> None:
    with rt.new_context() as earlier:
        rt.set_module_loader(load={"shared": "export const v = 7;"}.get)
        with rt.new_context() as later:
            for ctx in (earlier, later):
                assert ctx.eval("export { v } from 'shared';", module=True) == {"v": 7}


def test_without_a_loader_imports_fail_naming_set_module_loader(ctx: Context) -> None:
    with pytest.raises(JSError) as raised:
        ctx.eval("import { x } from 'anything';", module=True)
    assert raised.value.message == "cannot import 'anything': no module loader is set (call Runtime.set_module_loader)"


def test_unknown_modules_and_refused_specifiers_raise_js_errors(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(normalize=lambda base, spec: None if spec.startswith("..") else spec, load={}.get)
    with pytest.raises(JSError, match="cannot find module 'nowhere'"):
        ctx.eval("import 'nowhere';", module=True)
    with pytest.raises(JSError, match=r"cannot resolve module '\.\./secret' imported by '<eval>'"):
        ctx.eval("import '../secret';", module=True)
    assert ctx.eval("1 + 1") == 2


def test_what_a_loader_raises_stays_in_python(rt: Runtime, ctx: Context) -> None:
    def load(name: str) -> str:
        raise RuntimeError("database password is hunter2")

    rt.set_module_loader(load=load)
    with pytest.raises(JSError) as raised:
        ctx.eval("import 'x';", module=True)
    assert raised.value.message == "the module loader failed on 'x'"
    assert "hunter2" not in str(raised.value) + raised.value.stack
    assert ctx.eval("try { await import('y') } catch (e) { e.message }") == "the module loader failed on 'y'"


def test_the_caller_gets_what_the_loader_raised_as_the_errors_cause(rt: Runtime, ctx: Context) -> None:
    def load(name: str) -> str:
        raise LookupError(f"no row for {name}")

    rt.set_module_loader(load=load)
    with pytest.raises(JSError) as raised:
        ctx.eval("import 'x';", module=True)
    assert isinstance(raised.value.__cause__, LookupError) and str(raised.value.__cause__) == "no row for x"
    # the same through eval_async, whose program runs on a worker thread
    with pytest.raises(JSError) as raised:
        asyncio.run(ctx.eval_async("await import('z')"))
    assert str(raised.value.__cause__) == "no row for z"
    # a failure the program caught is nobody's cause; a later, uncaught one is its own
    assert ctx.eval("try { await import('w') } catch (e) { 'caught' }") == "caught"
    with pytest.raises(JSError) as raised:
        ctx.eval("throw new Error('unrelated')")
    assert raised.value.__cause__ is None
    with pytest.raises(JSError) as raised:
        ctx.eval("await import('w')")
    assert str(raised.value.__cause__) == "no row for w"
    # the transform policy's failure, too
    rt.set_module_loader(load=lambda name: "export default 1", transform_flags=lambda name: 1 / 0)
    with pytest.raises(JSError, match="its transform_flags did not give") as raised:
        ctx.eval("import 'q';", module=True)
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_a_loader_returning_something_other_than_text_is_refused(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(normalize=lambda base, spec: "\ud800" if spec == "lone" else spec,
                         load=lambda name: 42)  # type: ignore[arg-type, return-value]
    with pytest.raises(JSError) as raised:
        ctx.eval("import 'x';", module=True)
    assert raised.value.name == "TypeError"
    assert raised.value.message == "the module loader's load() answered 'x' with int; it must return str or None"
    with pytest.raises(JSError, match="not valid UTF-8"):
        ctx.eval("import 'lone';", module=True)


def test_set_module_loader_checks_its_arguments(rt: Runtime) -> None:
    with pytest.raises(TypeError, match="load must be callable or None"):
        rt.set_module_loader(load="export const x = 1;")  # type: ignore[arg-type]


def test_cyclic_imports_work(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(load={
        "even": "import { odd } from 'odd'; export const even = (n) => n === 0 || odd(n - 1);",
        "odd": "import { even } from 'even'; export const odd = (n) => n !== 0 && even(n - 1);",
    }.get)
    assert ctx.eval("import { even } from 'even'; export const r = [even(10), even(7)];", module=True) == {
        "r": [True, False]}


def test_hostile_specifiers_end_in_clear_errors(rt: Runtime, ctx: Context) -> None:
    loads: list[str] = []
    rt.set_module_loader(load=lambda name: loads.append(name) or None)
    with pytest.raises(JSError, match="an import specifier cannot contain a NUL character"):
        ctx.eval("await import('a\\0b')")
    with pytest.raises(JSError, match="more than the limit of 4096 bytes"):
        ctx.eval("await import('x'.repeat(100000))")
    assert loads == []
    assert ctx.eval("1 + 1") == 2


def test_module_limits_are_runtime_options() -> None:
    chain = {f"m{i}": f"export {{ v }} from 'm{i + 1}';" for i in range(9)}
    chain["m9"] = "export const v = 'deep';"
    with Runtime(max_modules=5) as rt, rt.new_context() as ctx:
        rt.set_module_loader(load=chain.get)
        with pytest.raises(JSError) as raised:
            ctx.eval("import 'm0';", module=True)
        assert raised.value.name == "RangeError"
        assert raised.value.message == "module limit exceeded: this sandbox may load 5 modules, so 'm5' cannot be loaded"
    with Runtime(module_source_limit=10) as rt, rt.new_context() as ctx:
        rt.set_module_loader(load=chain.get)
        with pytest.raises(JSError, match="module source limit exceeded"):
            ctx.eval("import 'm9';", module=True)
    with pytest.raises(InvalidInputError, match="max_modules"):
        Runtime(max_modules=0)


def test_a_namespace_holding_a_function_cannot_cross(rt: Runtime, ctx: Context) -> None:
    with pytest.raises(MarshalError):
        ctx.eval("export function f() {}", module=True)


async def test_a_program_suspended_in_an_imported_module_resumes_after_a_snapshot(rt: Runtime) -> None:
    rt.set_module_loader(load={
        "lib": "export const answer = await ask('ok?');",
        "late": "export const shout = (s) => s.toUpperCase();",
    }.get)
    with rt.new_context() as ctx:
        ctx.ask("ask")
        result = await ctx.start("import { answer } from 'lib';\n"
                                 "globalThis.out = (await import('late')).shout(answer);", module=True)
        assert result.suspended
        snapshot = ctx.create_snapshot()
    restored = rt.restore(snapshot)
    with restored:
        restored.ask("ask")
        (call,) = restored.pending
        restored.answer(call.id, "yes")
        done = await restored.resume()
        assert not done.suspended
        assert restored.eval("out") == "YES"


# ---- module namespaces as handles ------------------------------------------------------------


def test_eval_handle_of_a_module_is_its_namespace(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(load={"lib": "export const double = (n) => n * 2;"}.get)
    with ctx.eval_handle("export { double } from 'lib'; export const r = 7;", module=True) as ns:
        assert ns.type_of == "object"
        assert ns.get("r").to_python() == 7
        # a function export, which eval(module=True) could not return as data, is callable here
        assert ns.get("double").call(21).to_python() == 42


async def test_eval_handle_async_of_a_module_is_its_namespace_after_it_ran(rt: Runtime, ctx: Context) -> None:
    with await ctx.eval_handle_async("export const q = await Promise.resolve(3);", module=True) as ns:
        assert ns.get("q").to_python() == 3


# ---- source transforms of loaded modules -------------------------------------------------------

TS = SourceTransform.SOURCE_TS | SourceTransform.STRIP_TYPESCRIPT


def test_typescript_modules_are_stripped_by_their_name(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(load={
        "colors.ts": "export enum Color { Red, Green } export const g: number = Color.Green;",
        "pick.tsx": "export const pick = (o: { n: number }): number => o.n;",
        "typed.js": "export const v: number = 1;",
    }.get)
    assert ctx.eval("import { g } from 'colors.ts'; import { pick } from 'pick.tsx';"
                    "export const r = [g, pick({ n: 5 })];", module=True) == {"r": [1, 5]}
    with pytest.raises(JSError) as raised:  # a .js module is JavaScript: types are a SyntaxError
        ctx.eval("import 'typed.js';", module=True)
    assert raised.value.name == "SyntaxError"


def test_loader_flags_apply_to_any_name_and_none_turns_transforms_off(rt: Runtime) -> None:
    sources = {"typed.js": "export const v: number = 2;", "typed.ts": "export const v: number = 3;"}
    rt.set_module_loader(load=sources.get, transform_flags=TS)
    with rt.new_context() as ctx:
        assert ctx.eval("export { v } from 'typed.js';", module=True) == {"v": 2}
    rt.set_module_loader(load=sources.get, transform_flags=SourceTransform.NONE)
    with rt.new_context() as ctx, pytest.raises(JSError, match="SyntaxError|Unexpected|expecting"):
        ctx.eval("import 'typed.ts';", module=True)


def test_loaded_modules_follow_the_runtime_flags_unless_the_loader_has_its_own() -> None:
    sources = {"typed.js": "export const v: number = 16;", "typed.ts": "export const v: number = 17;"}
    with Runtime(transform_flags=TS) as rt:
        rt.set_module_loader(load=sources.get)
        with rt.new_context() as ctx:
            assert ctx.eval("export { v } from 'typed.js';", module=True) == {"v": 16}
        rt.set_module_loader(load=sources.get, transform_flags=SourceTransform.NONE)
        with rt.new_context() as ctx, pytest.raises(JSError):
            ctx.eval("import 'typed.ts';", module=True)
    with Runtime() as rt:  # the runtime's flags are read when a module loads, not when the loader is set
        rt.set_module_loader(load=sources.get)
        rt.transform_flags = TS
        with rt.new_context() as ctx:
            assert ctx.eval("export { v } from 'typed.js';", module=True) == {"v": 16}


def test_a_flags_function_is_asked_with_each_module_name(rt: Runtime, ctx: Context) -> None:
    asked: list[str] = []

    def flags_for(name: str) -> SourceTransform:
        asked.append(name)
        return default_module_transform_flags(name) | SourceTransform.TOP_LEVEL_CONST_TO_VAR

    rt.set_module_loader(load={"model.ts": "export const value: number = 5;", "plain": "export const w = 6;"}.get,
                         transform_flags=flags_for)
    assert ctx.eval("import { value } from 'model.ts'; import { w } from 'plain'; export const r = value + w;",
                    module=True) == {"r": 11}
    assert asked == ["model.ts", "plain"]


def test_a_module_that_does_not_parse_names_where(rt: Runtime, ctx: Context) -> None:
    rt.set_module_loader(load={"broken.ts": "export const x: = ;"}.get)
    with pytest.raises(JSError) as raised:
        ctx.eval("import { x } from 'broken.ts';", module=True)
    assert raised.value.name == "SyntaxError"
    assert raised.value.message == "Unexpected token (broken.ts:1:17)"


def test_a_failing_flags_function_stays_in_python(rt: Runtime, ctx: Context) -> None:
    def flags_for(name: str) -> int:
        raise RuntimeError("token hunter2")

    rt.set_module_loader(load={"m": "export const v = 1;"}.get, transform_flags=flags_for)
    with pytest.raises(JSError) as raised:
        ctx.eval("import 'm';", module=True)
    assert raised.value.message == ("the module loader failed on 'm': its transform_flags did not give "
                                    "valid SourceTransform flags")
    assert "hunter2" not in str(raised.value) + raised.value.stack
    with pytest.raises(TypeError, match="transform_flags must be SourceTransform flags"):
        rt.set_module_loader(load={}.get, transform_flags="ts")  # type: ignore[arg-type]


@pytest.mark.parametrize("exception", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("callback", ["normalize", "load"])
def test_keyboardinterrupt_and_systemexit_from_the_module_loader_stop_the_program(
        rt: Runtime, exception: type[BaseException], callback: str) -> None:
    """As from a host function: JavaScript cannot catch them, and the evaluation raises them at
    once, not when the program would have ended (here never, but for the CPU limit)."""

    def stop(*_: str) -> str:
        raise exception()

    def name(_: str, spec: str) -> str:
        return spec

    rt.set_module_loader(normalize=stop if callback == "normalize" else name,
                         load=stop if callback == "load" else (lambda _: "export default 1;"))
    with rt.new_context(timeout=20) as ctx:
        started = time.monotonic()
        with pytest.raises(exception):
            ctx.eval("try { await import('anything') } catch {} for (;;) {}")
        assert time.monotonic() - started < 5, "stopped at once, not at the CPU limit"

        async def off_the_loop() -> BaseException | None:
            try:
                await ctx.eval_async("try { await import('again') } catch {} for (;;) {}")
            except exception as raised:  # caught in the task: asyncio would re-raise it past the loop
                return raised
            return None

        assert isinstance(asyncio.run(off_the_loop()), exception)
        assert ctx.eval("6 * 7") == 42
