"""REPL-style redeclaration: top-level ``const``/``let``/``class`` become ``var`` bindings.

Every call of the eval tool runs in the same global scope, and the model often sends a block
again after fixing it. Top-level lexical declarations would then fail with "redeclaration of
'x'"; ``var`` bindings may be declared again, as in a browser console. Only declarations at the
top level of the program are rewritten (not in blocks, functions or loop heads), and the
rewrite keeps every line and, for ``const``/``let``, every column, so stack traces still point
at the model's code.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# After these words a "/" starts a regular expression, not a division.
_EXPRESSION_KEYWORDS = frozenset({"return", "typeof", "instanceof", "in", "of", "new", "delete", "void",
                                  "throw", "case", "do", "else", "yield", "await"})
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def redeclarable(code: str) -> str:
    """``code`` with its top-level ``const``/``let``/``class`` declarations made re-runnable.
    Module code (top-level ``import``/``export``) is returned unchanged."""
    out: list[str] = []
    stack: list[str] = []  # "(", "[", "{", "${" (a template substitution), "class" (a class body)
    prev = ""  # the previous significant token
    newline_since_prev = False
    pending_class = False  # saw `class Name` at the top level; its body's "{" is next
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch in " \t\r\n":
            newline_since_prev |= ch == "\n"
            out.append(ch)
            i += 1
            continue
        if code.startswith("//", i) or code.startswith("/*", i):
            end = code.find("\n", i) if code[i + 1] == "/" else code.find("*/", i + 2)
            end = n if end < 0 else (end if code[i + 1] == "/" else end + 2)
            chunk = code[i:end]
            newline_since_prev |= "\n" in chunk
            out.append(chunk)
            i = end
            continue
        if ch in "'\"":
            end = _string_end(code, i)
            out.append(code[i:end])
            i, prev, newline_since_prev = end, "string", False
            continue
        if ch == "`" or (ch == "}" and stack and stack[-1] == "${"):
            if ch == "}":
                stack.pop()
            end, opens_substitution = _template_end(code, i + 1)
            out.append(code[i:end])
            i = end
            if opens_substitution:
                stack.append("${")
                prev = "("
            else:
                prev = "string"
            newline_since_prev = False
            continue
        if ch == "/" and _starts_regex(prev):
            end = _regex_end(code, i)
            out.append(code[i:end])
            i, prev, newline_since_prev = end, "string", False
            continue
        match = _WORD.match(code, i)
        if match:
            word = match.group()
            at_statement_start = not stack and (prev in ("", ";", "}") or newline_since_prev)
            if at_statement_start and word in ("import", "export") and _is_module_keyword(code, match.end()):
                return code
            if at_statement_start and word == "const":
                out.append("var  ")
            elif at_statement_start and word == "let" and _declares(code, match.end()):
                out.append("var")
            elif at_statement_start and word == "class" and (name := _WORD.match(code, _skip_space(code, match.end()))):
                out.append(f"var {name.group()} = class")
                pending_class = True
            else:
                out.append(word)
            i, prev, newline_since_prev = match.end(), word, False
            continue
        if ch in "([{":
            opens_class_body = ch == "{" and pending_class and not stack
            stack.append("class" if opens_class_body else ch)
            pending_class = pending_class and not opens_class_body
        elif ch in _CLOSERS and stack:
            closed = stack.pop()
            if closed == "class" and not stack:
                out.append("};")
                i, prev, newline_since_prev = i + 1, ";", False
                continue
        out.append(ch)
        i, prev, newline_since_prev = i + 1, ch, False
    return "".join(out)


def _string_end(code: str, start: int) -> int:
    quote, i = code[start], start + 1
    while i < len(code) and code[i] != quote and code[i] != "\n":
        i += 2 if code[i] == "\\" else 1
    return min(i + 1, len(code))


def _template_end(code: str, i: int) -> tuple[int, bool]:
    """Where the template text starting at ``i`` stops: after its closing backtick (False) or
    after a ``${`` (True)."""
    while i < len(code):
        if code[i] == "\\":
            i += 2
        elif code[i] == "`":
            return i + 1, False
        elif code.startswith("${", i):
            return i + 2, True
        else:
            i += 1
    return len(code), False


def _starts_regex(prev: str) -> bool:
    if prev in ("", "string") or prev in _EXPRESSION_KEYWORDS:
        return prev != "string"
    return not (_WORD.fullmatch(prev) or prev[0].isdigit() or prev in (")", "]", "}"))


def _regex_end(code: str, start: int) -> int:
    i, in_class = start + 1, False
    while i < len(code) and code[i] != "\n":
        if code[i] == "\\":
            i += 2
            continue
        if code[i] == "[":
            in_class = True
        elif code[i] == "]":
            in_class = False
        elif code[i] == "/" and not in_class:
            flags = _WORD.match(code, i + 1)
            return flags.end() if flags else i + 1
        i += 1
    return i


def _skip_space(code: str, i: int) -> int:
    while i < len(code) and code[i] in " \t\r\n":
        i += 1
    return i


def _declares(code: str, end: int) -> bool:
    """``let`` followed by a name or a destructuring pattern (not ``let`` used as a name)."""
    j = _skip_space(code, end)
    return j < len(code) and (code[j] in "[{" or _WORD.match(code, j) is not None)


def _is_module_keyword(code: str, end: int) -> bool:
    """``import x ...`` / ``export ...``, as opposed to ``import(...)`` and ``import.meta``."""
    j = _skip_space(code, end)
    return j < len(code) and code[j] not in "(."
