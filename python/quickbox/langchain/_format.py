"""What the model reads back from ``eval`` and what JavaScript receives from a tool.

An evaluation ends as ``<stdout>`` (console output, if any) followed by either ``<result>`` or
``<error type="...">``. Each block is cut to ``max_result_chars`` on its own, so a chatty
program cannot push its result out of view.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.types import Command
from pydantic import BaseModel

import quickbox

_CUT_MARKER = "… [{n} more characters cut]"
_CLOSING_TAG = re.compile(r"</(stdout|result|error)", re.IGNORECASE)


@dataclass
class Outcome:
    """One finished evaluation, before rendering."""

    stdout: str = ""
    stdout_dropped: int = 0  # characters lost before rendering (the console limit)
    result: str | None = None
    result_kind: str | None = None  # "handle": a value that cannot leave the sandbox
    error_type: str | None = None
    error_message: str = ""
    error_stack: str = ""

    @classmethod
    def error(cls, error_type: str, message: str, stack: str = "") -> Outcome:
        return cls(error_type=error_type, error_message=message, error_stack=stack)


def render(outcome: Outcome, *, max_chars: int) -> str:
    """The tool message: ``<stdout>`` then ``<result>`` or ``<error>``, each cut on its own."""
    blocks = []
    if outcome.stdout or outcome.stdout_dropped:
        blocks.append(f"<stdout>\n{_escape(_cut(outcome.stdout, max_chars, outcome.stdout_dropped))}\n</stdout>")
    if outcome.error_type is not None:
        body = outcome.error_message
        if outcome.error_stack:
            body = f"{body}\n{outcome.error_stack.rstrip()}"
        blocks.append(f'<error type="{_escape(outcome.error_type)}">{_escape(_cut(body, max_chars))}</error>')
    else:
        kind = f' kind="{outcome.result_kind}"' if outcome.result_kind else ""
        body = "undefined" if outcome.result is None else outcome.result
        blocks.append(f"<result{kind}>{_escape(_cut(body, max_chars))}</result>")
    return "\n".join(blocks)


def _cut(text: str, limit: int, already_dropped: int = 0) -> str:
    """``text`` within ``limit`` characters, the marker included (only the marker when the limit
    is smaller than it), saying how much was cut."""
    if len(text) <= limit and not already_dropped:
        return text
    keep = max(0, min(len(text), limit - len(_CUT_MARKER.format(n=len(text) + already_dropped))))
    return text[:keep] + _CUT_MARKER.format(n=len(text) - keep + already_dropped)


def _escape(text: str) -> str:
    """Text is kept as is (stacks read "at f (<eval>:1:15)"), except that nothing inside a block
    can close it early."""
    return _CLOSING_TAG.sub(lambda m: "<\\/" + m.group(1), text)


def stringify(value: Any, *, nested: bool = False) -> str:
    """A JavaScript-looking rendering of a value that left the sandbox."""
    if value is None:
        return "null"
    if isinstance(value, quickbox.Undefined):
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if nested else value
    if isinstance(value, (bytes, bytearray)):
        return f"Uint8Array({len(value)}) [{', '.join(str(b) for b in value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(stringify(v, nested=True) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {stringify(v, nested=True)}" for k, v in value.items()) + "}"
    if isinstance(value, quickbox.JSError):
        return f"{value.name}: {value.message}" if value.name else value.message
    return str(value)


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _key(key: object) -> str:
    text = str(key)
    return text if text.isidentifier() else json.dumps(text, ensure_ascii=False)


def to_js(value: Any) -> Any:
    """A tool's output as a value JavaScript can receive: LangChain envelopes (``ToolMessage``,
    ``Command``) are opened, Pydantic models dumped, and anything else that is not data becomes
    its string form, so the program always gets something it can read. A list made only of
    envelopes is what ToolNode receives from a tool that answers with several messages; its last
    one is the answer (as in langchain-quickjs)."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (ToolMessage, Command)) for v in value):
        return to_js(value[-1])
    if isinstance(value, ToolMessage):
        return to_js(value.content)
    if isinstance(value, Command):
        return to_js(command_text(value))
    if isinstance(value, BaseModel):
        return to_js(value.model_dump(mode="json"))
    if value is None or isinstance(value, (str, bool, int, float, bytes)):
        return value
    if isinstance(value, dict):
        return {str(k): to_js(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_js(v) for v in value]
    return str(value)


def command_text(command: Command[Any]) -> Any:
    """The content of the last message a ``Command`` carries (what a tool meant to answer)."""
    update = command.update
    if isinstance(update, dict):
        for message in reversed(update.get("messages") or []):
            content = getattr(message, "content", None)
            if content is not None:
                return content
    return "" if update is None else str(update)
