"""The text the model reads about the interpreter: the system-prompt section, the ``eval`` tool's
description, and a TypeScript-style reference of the ``tools.*`` functions built from each
tool's argument schema and return annotation."""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.tools import BaseTool
from pydantic import TypeAdapter

from .. import Network

Mode = Literal["thread", "turn", "call"]

_PERSISTENCE = {
    "thread": "Top-level variables, functions and classes stay defined for later calls in this "
              "conversation, in later turns too. Declaring a name again replaces it.",
    "turn": "Top-level variables, functions and classes stay defined for later calls in this turn; "
            "they are cleared when the next user message arrives. Declaring a name again replaces it.",
    "call": "Every call starts from a clean interpreter: nothing carries over from one call to the next.",
}


@dataclass(frozen=True)
class PromptSettings:
    tool_name: str
    mode: Mode
    timeout: float
    memory_limit: int
    wall_timeout: float | None
    max_ptc_calls: int | None
    max_concurrent_subagents: int
    max_subagent_calls: int | None
    network: Network | None = None


_INTERPRETER = {"thread": "a persistent, sandboxed interpreter",
                "turn": "a sandboxed interpreter that persists within a turn",
                "call": "a fresh, sandboxed interpreter"}


def eval_tool_description(mode: Mode, *, network: bool = False) -> str:
    reach = ("No filesystem; `fetch()` reaches only the hosts the instructions list"
             if network else "No filesystem or network")
    return (f"Runs JavaScript in {_INTERPRETER[mode]} and returns its console output and the value "
            f"of its last expression. {_PERSISTENCE[mode]} {reach}; top-level `await` and timers work.")


def code_argument_description(mode: Mode) -> str:
    return f"The JavaScript to run. {_PERSISTENCE[mode]}"


def system_prompt(settings: PromptSettings, *, tools: Sequence[tuple[str, BaseTool]],
                  gated_tools: Sequence[str], subagents: bool, gated_subagents: Sequence[str] | None) -> str:
    """The section appended to the system prompt. ``gated_subagents`` is None when no dispatch
    needs approval, and contains "*" when every one does."""
    name = settings.tool_name
    limits = f"{_seconds(settings.timeout)} of CPU time and {settings.memory_limit // (1024 * 1024)} MB of memory"
    if settings.wall_timeout is not None:
        limits += f", {_seconds(settings.wall_timeout)} in total including waits on tools"
    reach = ("The only way out is the `tools.*` functions described below."
             if tools else "It is pure computation: return values to report results.")
    if subagents:
        reach += " Subagents run through `task()`, described below."
    lines = [
        f"## JavaScript interpreter: `{name}`",
        "",
        f"`{name}` runs JavaScript (ES2023) in a sandboxed interpreter. TypeScript works too: types "
        "are stripped, not checked, and `enum` and `namespace` are compiled.",
        "",
        f"- {_PERSISTENCE[settings.mode]}",
        "- Top-level `await` works, and a Promise left as the last expression is awaited.",
        (f"- No filesystem, `import` of modules, `require`, `process` or `Intl`; `fetch()` reaches the "
         f"hosts listed below. {reach}" if settings.network is not None else
         f"- No filesystem, network, `import` of modules, `require`, `process`, `fetch` or `Intl`. {reach}"),
        "- `setTimeout`/`setInterval`, `URL`/`URLSearchParams`, `TextEncoder`/`TextDecoder`, `atob`/`btoa`, `structuredClone`, "
        "`crypto` (`randomUUID`, `getRandomValues`, `subtle.digest`) and `AbortController` work. Waiting "
        "on timers counts toward the time limit, and timers still pending when the call returns are "
        "dropped: await them. `toLocaleString` formats en-US only.",
        f"- Each call may use {limits}.",
        "- You get back `<stdout>` (what `console.log` printed), then `<result>` (the value of the last "
        "expression) or `<error type=\"...\">` (an uncaught error and its stack). Only data comes back: "
        "return plain objects, arrays, strings and numbers, not functions or Maps.",
    ]
    text = "\n".join(lines)
    if settings.network is not None:
        text += "\n\n" + _network_section(settings.network, name)
    if tools:
        text += "\n\n" + _tools_section(settings, tools, gated_tools)
    if subagents:
        text += "\n\n" + _subagent_section(settings, gated_subagents)
    return text


def _tools_section(settings: PromptSettings, tools: Sequence[tuple[str, BaseTool]],
                   gated_tools: Sequence[str]) -> str:
    name = settings.tool_name
    budget = ("" if settings.max_ptc_calls is None
              else f" One `{name}` call may make at most {settings.max_ptc_calls} tool calls.")
    parts = [
        "### Agent tools inside the interpreter: `tools.*`",
        "",
        "The tools below are JavaScript functions on the global `tools` object. Each takes one object "
        "argument and returns a Promise of the tool's result as a JavaScript value (no `JSON.parse` "
        "needed). A failing tool rejects its Promise with an Error you can catch." + budget,
        "",
        f"Prefer one `{name}` call that does the whole job over many round trips: loop, branch, run "
        "independent calls together with `Promise.all`, and feed one tool's output straight into the "
        "next. Print an intermediate value with `console.log` only when you need to look at it before "
        f"deciding; split the work over several `{name}` calls only then.",
    ]
    if gated_tools:
        listed = ", ".join(f"`tools.{js}`" for js in gated_tools)
        parts += ["", f"Calls to {listed} wait for a person to approve them. The program pauses there and "
                  "carries on by itself once they decide; a call they reject throws an Error with their "
                  "reason, which you can catch when the rest of the work can go on without it."]
    parts += ["", "```typescript", "\n\n".join(tool_signature(js, tool) for js, tool in tools), "```"]
    return "\n".join(parts)


def _network_section(network: Network, name: str) -> str:
    def listed(rules: Sequence[str]) -> str:
        return ", ".join(f"`{rule}`" for rule in rules) if rules else "nothing"

    parts = [
        "### Network inside the interpreter: `fetch()`",
        "",
        "`fetch(url, init)` works as in a browser, with `Request`, `Response`, `Headers` and `AbortController`: "
        "read a body with `await res.json()`, `res.text()` or `res.arrayBuffer()` (no streams, Blob or FormData), "
        "check `res.ok`/`res.status`. URLs must be absolute.",
        "",
        f"- Allowed: {listed(network.allow)} (a rule is `[METHODS ]PATTERN`: a host, `*.domain`, or a URL prefix; "
        "`*` is any public host).",
    ]
    if network.deny:
        parts.append(f"- Refused even so: {listed(network.deny)}.")
    parts.append("- Private and loopback addresses are refused unless a rule names them. Anything else rejects "
                 "with a TypeError saying which rule refused it: do not retry it.")
    if network.approve or network.approve_unsafe_methods:
        held = ([f"requests matching {listed(network.approve)}"] if network.approve else []) + \
            (["every request with a method other than GET, HEAD or OPTIONS"] if network.approve_unsafe_methods else [])
        held_text = " and ".join(held)
        parts.append(f"- {held_text[0].upper() + held_text[1:]} wait for a person's approval before they are sent; "
                     "a rejected one rejects with an Error saying so.")
    if network.secrets:
        where = ", ".join(f"`{s.host}` ({'header `' + s.header + '`' if s.header else 'query parameter `' + str(s.query) + '`'})"
                          for s in network.secrets)
        parts.append(f"- Credentials are added for you on requests to {where}. You never see them; do not add "
                     "them yourself or ask for them.")
    parts.append(f"- One `fetch()` may take {_seconds(network.timeout)} (redirects included) and return up to "
                 f"{network.max_response_bytes // 1024} KiB; one `{name}` call may make {network.max_requests_per_eval} "
                 f"requests, {network.max_in_flight} at a time. Fetch independent URLs together with `Promise.all`.")
    return "\n".join(parts)


def _subagent_section(settings: PromptSettings, gated: Sequence[str] | None) -> str:
    name = settings.tool_name
    cap = (f"at most {settings.max_concurrent_subagents} run at once (the others wait their turn)")
    if settings.max_subagent_calls is not None:
        cap += f", and one `{name}` call may dispatch at most {settings.max_subagent_calls}"
    parts = [
        "### Subagents inside the interpreter: `task()`",
        "",
        "```typescript",
        "task(input: {",
        "  description: string;        // complete, self-contained instructions: the subagent sees nothing else",
        "  subagentType: string;       // one of the subagent types listed for the `task` tool",
        "  responseSchema?: object;    // JSON Schema of the answer you want back",
        "  label?: string;             // short name for progress displays",
        "}): Promise<unknown>",
        "```",
        "",
        "`task()` runs one subagent to the end and resolves to its final answer. With `responseSchema` "
        "the answer arrives as a JavaScript value of that shape; set it whenever later code uses the "
        "answer. Give each subagent locations (file paths, names) rather than pasted contents, and keep "
        "results in variables: combine, filter and dispatch again in JavaScript instead of copying "
        f"values into a new call. Run independent subagents together with `Promise.all`: {cap}.",
    ]
    if gated:
        which = "every subagent" if "*" in gated else " or ".join(f"`{t}`" for t in gated)
        parts += ["", f"Dispatching {which} waits for a person's approval first; the program pauses and carries "
                  "on by itself. A rejected dispatch throws an Error with their reason."]
    parts += [
        "",
        "```javascript",
        'const paths = ["src/a.py", "src/b.py"];',
        "const reviews = await Promise.all(paths.map((path) => task({",
        "  description: `Review ${path} for SQL built from user input. Cite line numbers.`,",
        '  subagentType: "reviewer",',
        '  responseSchema: { type: "object", properties: { issues: { type: "array", items: { type: "string" } } },',
        '                    required: ["issues"] },',
        "})));",
        "paths.map((path, i) => ({ path, issues: reviews[i].issues }));",
        "```",
    ]
    return "\n".join(parts)


def _seconds(value: float) -> str:
    return f"{value:g} s"


# ---- TypeScript-style signatures ------------------------------------------------------------------

_CAMEL = re.compile(r"[-_]+([A-Za-z0-9])")
JS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def js_name(tool_name: str) -> str:
    """``search_docs`` and ``search-docs`` become ``searchDocs``."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), tool_name)


def tool_signature(js: str, tool: BaseTool) -> str:
    """``/** summary */ tools.name(input: {...}): Promise<...>``."""
    summary = _summary(tool.description or "")
    head = f"/** {summary} */\n" if summary else ""
    return f"{head}tools.{js}(input: {_input_type(tool)}): Promise<{return_type(tool)}>"


def _summary(description: str) -> str:
    first = description.strip().split("\n\n", 1)[0]
    return " ".join(first.split()).replace("*/", "*\\/")


def _input_type(tool: BaseTool) -> str:
    try:
        schema: Any = tool.tool_call_schema
        json_schema = schema if isinstance(schema, dict) else schema.model_json_schema()
    except Exception:  # noqa: BLE001 - a tool without a usable schema still gets a signature
        return "Record<string, unknown>"
    if not isinstance(json_schema, dict) or not json_schema.get("properties"):
        return "Record<string, unknown>" if json_schema.get("additionalProperties", True) else "{}"
    return _object_type(json_schema, json_schema.get("$defs", {}), depth=0, multiline=True)


def return_type(tool: BaseTool) -> str:
    """The TypeScript form of the tool function's return annotation; ``unknown`` without one."""
    fn = getattr(tool, "coroutine", None) or getattr(tool, "func", None)
    if fn is None:
        return "unknown"
    annotation: Any = inspect.Signature.empty
    with contextlib.suppress(Exception):
        annotation = typing.get_type_hints(fn).get("return", inspect.Signature.empty)
    if annotation is inspect.Signature.empty or annotation is Any:
        return "unknown"
    try:
        schema = TypeAdapter(annotation).json_schema()
    except Exception:  # noqa: BLE001 - ToolMessage, Command and other non-data returns
        return "unknown"
    return ts_type(schema, schema.get("$defs", {}), depth=0)


def ts_type(schema: Any, defs: dict[str, Any], *, depth: int) -> str:
    """A TypeScript type for a JSON Schema (the parts tools use: refs, unions, enums, arrays,
    objects, maps)."""
    if not isinstance(schema, dict) or depth > 6:
        return "unknown"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return ts_type(defs.get(ref.removeprefix("#/$defs/")), defs, depth=depth + 1)
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _union(ts_type(s, defs, depth=depth + 1) for s in schema[key])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return ts_type(schema["allOf"][0], defs, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union(ts_type({**schema, "type": k}, defs, depth=depth) for k in kind)
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        item = ts_type(schema.get("items"), defs, depth=depth + 1) if "items" in schema else "unknown"
        return f"({item})[]" if "|" in item else f"{item}[]"
    if kind == "object" or "properties" in schema:
        if schema.get("properties"):
            return _object_type(schema, defs, depth=depth, multiline=False)
        extra = schema.get("additionalProperties")
        value = ts_type(extra, defs, depth=depth + 1) if isinstance(extra, dict) else "unknown"
        return f"Record<string, {value}>"
    return "unknown"


def _union(parts: Any) -> str:
    return " | ".join(dict.fromkeys(parts))


def _object_type(schema: dict[str, Any], defs: dict[str, Any], *, depth: int, multiline: bool) -> str:
    required = set(schema.get("required", []))
    fields = []
    for key, prop in schema["properties"].items():
        name = key if JS_IDENTIFIER.fullmatch(key) else json.dumps(key)
        optional = "" if key in required else "?"
        field = f"{name}{optional}: {ts_type(prop, defs, depth=depth + 1)};"
        description = prop.get("description") if isinstance(prop, dict) else None
        if multiline and description:
            field += f"  // {' '.join(str(description).split())}"
        fields.append(field)
    if multiline:
        return "{\n" + "\n".join(f"  {f}" for f in fields) + "\n}"
    return "{ " + " ".join(fields) + " }"
