"""Top-level declarations become re-declarable, and nothing else in the program changes."""

from __future__ import annotations

import pytest

from quickbox.langchain._source import redeclarable


@pytest.mark.parametrize(("code", "expected"), [
    ("const a = 1; let b = 2; a + b", "var   a = 1; var b = 2; a + b"),
    ("const {x, y} = o;\nlet [p] = q", "var   {x, y} = o;\nvar [p] = q"),
    ("class K extends mix({k: 1}) { m() { return {a: 1} } }\nK",
     "var K = class K extends mix({k: 1}) { m() { return {a: 1} } };\nK"),
    ("x = {a: 1}\nconst k = 2", "x = {a: 1}\nvar   k = 2"),
    ("const v = await import('m')", "var   v = await import('m')"),
])
def test_top_level_declarations_become_var_bindings(code: str, expected: str) -> None:
    assert redeclarable(code) == expected


@pytest.mark.parametrize("code", [
    "for (const x of xs) { const y = x; let z = y }",
    "function f() { const z = 1; return z }",
    "if (a) { let q = 1 } else { class C {} }",
    "const_name = 1; letters = 2",
    "s = 'const x'; t = `a ${ {b: `c${1}`}.b } let y`; r = /\\/const[}{]/g",
    "// const c = 1\n/* let d */ x",
    "let = 5",
    "import x from 'y'\nconst z = x",
])
def test_everything_else_is_left_alone(code: str) -> None:
    assert redeclarable(code) == code
