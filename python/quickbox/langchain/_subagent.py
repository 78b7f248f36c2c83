"""``task()`` in JavaScript: validating a dispatch, running it through Deep Agents' ``task`` tool,
and the lifecycle events on LangGraph's custom stream."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

import quickbox

logger = logging.getLogger("quickbox.langchain")

SUBAGENT_STREAM_EVENT_TYPE: Final = "subagent"
"""The ``type`` of every subagent event on the custom stream."""

_MAX_SCHEMA_BYTES = 8192
_DESCRIPTION_CHARS = 200
_LABEL_CHARS = 80


class SubagentStartEvent(TypedDict):
    """A subagent dispatched from JavaScript started (again, when a paused one resumes: treat
    ``id`` as a key to update, not to append)."""

    type: Literal["subagent"]
    phase: Literal["start"]
    id: str
    eval_id: NotRequired[str]
    subagent_type: str
    label: str
    description: str


class SubagentCompleteEvent(TypedDict):
    """A subagent dispatched from JavaScript returned its answer."""

    type: Literal["subagent"]
    phase: Literal["complete"]
    id: str
    eval_id: NotRequired[str]
    duration_ms: int


class SubagentErrorEvent(TypedDict):
    """A subagent dispatched from JavaScript failed; its ``task()`` promise rejects."""

    type: Literal["subagent"]
    phase: Literal["error"]
    id: str
    eval_id: NotRequired[str]
    duration_ms: int
    error: str


class SubagentPausedEvent(TypedDict):
    """A subagent dispatched from JavaScript paused for human review; the same ``id`` starts
    again when the run resumes."""

    type: Literal["subagent"]
    phase: Literal["paused"]
    id: str
    eval_id: NotRequired[str]
    duration_ms: int


SubagentStreamEvent = SubagentStartEvent | SubagentCompleteEvent | SubagentErrorEvent | SubagentPausedEvent
"""One lifecycle event of a subagent dispatched from JavaScript (custom stream mode). Consumers
should ignore phases they do not know."""


def parse_dispatch(args: list[Any]) -> dict[str, Any]:
    """``task({description, subagentType, responseSchema?, label?})`` as a dispatch
    (``description``, ``subagent_type``, ``response_schema``, ``label``); ValueError names what
    is wrong."""
    raw = args[0] if args else None
    if not isinstance(raw, Mapping):
        raise ValueError("task() takes one object: {description, subagentType, responseSchema?, label?}")
    return dispatch_from({k: v for k, v in raw.items() if not isinstance(v, quickbox.Undefined)})


def dispatch_from(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A dispatch from camelCase (JavaScript) or snake_case (an edited approval) fields."""
    description = raw.get("description")
    subagent_type = raw.get("subagentType", raw.get("subagent_type"))
    schema = raw.get("responseSchema", raw.get("response_schema"))
    label = raw.get("label")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("task() needs `description`: the subagent's complete instructions (a non-empty string)")
    if not isinstance(subagent_type, str) or not subagent_type:
        raise ValueError("task() needs `subagentType`: one of the subagent types of the `task` tool")
    if schema is not None:
        if not isinstance(schema, Mapping):
            raise ValueError("task() `responseSchema` must be a JSON Schema object")
        size = len(json.dumps(schema, default=str))
        if size > _MAX_SCHEMA_BYTES:
            raise ValueError(f"task() `responseSchema` is {size} bytes of JSON; the limit is {_MAX_SCHEMA_BYTES}")
        schema = dict(schema)
        schema.setdefault("title", "subagent_response")
    if label is not None and not isinstance(label, str):
        raise ValueError("task() `label` must be a string")
    return {"description": description, "subagent_type": subagent_type, "response_schema": schema,
            "label": (label.strip() or None) if isinstance(label, str) else None}


def review_args(dispatch: Mapping[str, Any]) -> dict[str, Any]:
    """What the reviewer sees of a dispatch: the arguments of Deep Agents' own ``task`` tool."""
    args = {"description": dispatch["description"], "subagent_type": dispatch["subagent_type"]}
    if dispatch.get("response_schema") is not None:
        args["response_schema"] = dispatch["response_schema"]
    return args


def answer(output: Any, *, parse_json: bool) -> Any:
    """The subagent's final answer; parsed from JSON when a response schema was requested."""
    if parse_json and isinstance(output, str):
        try:
            return json.loads(output)
        except json.JSONDecodeError:
            return output
    return output


def start_event(dispatch_id: str, eval_id: str, dispatch: Mapping[str, Any]) -> SubagentStartEvent:
    description = " ".join(dispatch["description"].split())
    return SubagentStartEvent(type="subagent", phase="start", id=dispatch_id, eval_id=eval_id,
                              subagent_type=dispatch["subagent_type"],
                              label=(dispatch.get("label") or description)[:_LABEL_CHARS],
                              description=dispatch["description"][:_DESCRIPTION_CHARS])


def end_event(dispatch_id: str, eval_id: str, phase: Literal["complete", "error", "paused"], duration: float,
              error: str | None = None) -> SubagentStreamEvent:
    fields: dict[str, Any] = {"type": "subagent", "phase": phase, "id": dispatch_id, "eval_id": eval_id,
                              "duration_ms": int(duration * 1000)}
    if phase == "error":
        fields["error"] = error or ""
    event: SubagentStreamEvent = fields  # type: ignore[assignment]
    return event


def emit(writer: Any, event: SubagentStreamEvent) -> None:
    """Sends an event on the custom stream; a failing writer never breaks the dispatch."""
    if writer is None:
        return
    try:
        writer(event)
    except Exception:  # noqa: BLE001 - observability must not change the program's outcome
        logger.debug("could not emit subagent event %s/%s", event.get("id"), event.get("phase"), exc_info=True)
