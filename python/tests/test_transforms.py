"""Source transforms (quickbox._transforms): SourceTransform flags as quickjs-rs defines them,
Runtime(transform_flags=), eval(transform_flags=) and transform_source()."""

from __future__ import annotations

import pytest

from quickbox import JSError, Runtime, SourceTransform, default_module_transform_flags, transform_source

TS = SourceTransform.SOURCE_TS | SourceTransform.STRIP_TYPESCRIPT


def test_eval_strips_typescript_when_asked() -> None:
    with Runtime() as rt, rt.new_context() as ctx:
        assert ctx.eval("const value: number = 2; value", transform_flags=TS) == 2
        with pytest.raises(JSError) as caught:
            ctx.eval("const other: number = 2; other")  # no transform: a JavaScript SyntaxError
        assert caught.value.name == "SyntaxError"


def test_runtime_flags_apply_to_every_eval_and_an_eval_can_override_them() -> None:
    with Runtime(transform_flags=SourceTransform.TOP_LEVEL_CONST_TO_VAR) as rt, rt.new_context() as ctx:
        ctx.eval("const exposed = 1;")
        assert ctx.eval("globalThis.exposed") == 1
        ctx.eval("const exposed = 2;")  # declared again: it is a var
        ctx.eval("const scoped = 3;", transform_flags=SourceTransform.NONE)
        assert ctx.eval("'scoped' in globalThis") is False


def test_a_policy_may_depend_on_the_file_name() -> None:
    with Runtime(transform_flags=default_module_transform_flags) as rt, rt.new_context() as ctx:
        assert ctx.eval("let n: number = 5; n", filename="job.ts") == 5
        with pytest.raises(JSError):
            ctx.eval("let m: number = 5; m", filename="job.js")


async def test_eval_async_strips_typescript() -> None:
    with Runtime() as rt, rt.new_context() as ctx:
        assert await ctx.eval_async("const v: number = await Promise.resolve(41); v + 1", transform_flags=TS) == 42


def test_typescript_errors_point_into_the_typescript() -> None:
    with Runtime() as rt, rt.new_context() as ctx:
        with pytest.raises(JSError) as syntax:
            ctx.eval("let ok = 1;\nlet x: = 2;", transform_flags=TS, filename="bad.ts")
        assert syntax.value.name == "SyntaxError"
        assert "bad.ts:2:8" in syntax.value.stack
        with pytest.raises(JSError) as thrown:
            ctx.eval("interface P { x: number }\nfunction f(p: P): never {\n  throw new Error('boom');\n}\nf({ x: 1 });",
                     transform_flags=TS, filename="job.ts")
        assert "job.ts:3:" in thrown.value.stack


def test_transform_source_follows_the_name_unless_flags_are_given() -> None:
    assert transform_source("model.ts", "export const value: number = 1;") == "export const value         = 1;"
    assert transform_source("model.ts", "const v: number = 1;", flags=SourceTransform.NONE) == "const v: number = 1;"
    assert transform_source("plain.js", "const v = 1;") == "const v = 1;"
    assert transform_source("plain.js", "export const value = 1;",
                            flags=SourceTransform.TOP_LEVEL_CONST_TO_VAR) == "export var   value = 1;"
    assert default_module_transform_flags("view.tsx") == SourceTransform.SOURCE_TSX | SourceTransform.STRIP_TYPESCRIPT
    with pytest.raises(JSError, match="JSX is not supported"):
        transform_source("view.tsx", "const el = <b>hi</b>;")


def test_bad_flags_are_refused_with_their_name() -> None:
    with pytest.raises(TypeError, match="transform_flags"):
        Runtime(transform_flags="ts")  # type: ignore[arg-type]
    with Runtime() as rt, rt.new_context() as ctx:
        # Reassigned later: checked then, and the runtime's contexts keep what they had.
        with pytest.raises(TypeError, match="transform_flags must be SourceTransform flags, got str"):
            rt.transform_flags = "ts"  # type: ignore[assignment]
        assert rt.transform_flags is None
        assert ctx.eval("1 + 2") == 3
        rt.transform_flags = SourceTransform.SOURCE_TS | SourceTransform.STRIP_TYPESCRIPT
        assert ctx.eval("const typed: number = 41; typed + 1") == 42
    with pytest.raises(ValueError, match="STRIP_TYPESCRIPT needs"):
        transform_source("a.ts", "1", flags=SourceTransform.STRIP_TYPESCRIPT)
    with pytest.raises(ValueError, match="not both"):
        transform_source("a.ts", "1", flags=SourceTransform.SOURCE_TS | SourceTransform.SOURCE_TSX
                         | SourceTransform.STRIP_TYPESCRIPT)
    with pytest.raises(ValueError, match="unknown bits"):
        transform_source("a.ts", "1", flags=1 << 20)
