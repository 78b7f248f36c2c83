"""Durable pauses: approval gates, the reviewer's request and decisions, and the record that lets
a paused program continue in another process.

The request and the decisions have exactly the shape of LangChain's ``HumanInTheLoopMiddleware``
(``HITLRequest``: ``action_requests`` + ``review_configs``; ``{"decisions": [...]}`` with
``approve`` / ``edit`` / ``reject`` / ``respond``), so UIs built for Deep Agents render them.

The record of a paused ``eval`` call lives in graph state (see ``PauseRecord``): the suspended
VM's snapshot, what each pending call is, and the counters the program continues with. See the
package docstring for the steps that write it, ask the reviewer and continue the program.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal, cast

from langchain.agents.middleware.human_in_the_loop import (
    ActionRequest,
    DecisionType,
    HITLRequest,
    ReviewConfig,
    _decision_schema,
)
from langchain_core.tools import BaseTool
from pydantic import AfterValidator
from typing_extensions import TypedDict

import quickbox

ALL_DECISIONS: list[str] = ["approve", "edit", "reject", "respond"]
_RECORD_VERSION = 2


class RecordRefused(Exception):
    """A stored pause record failed its integrity check."""


@dataclass(frozen=True)
class Gate:
    """One ``interrupt_on`` entry, normalized as ``HumanInTheLoopMiddleware`` does."""

    allowed: list[str]
    description: str | Callable[..., str] | None = None
    when: Callable[..., bool] | None = None


class Gates:
    """``interrupt_on``: tool names, ``task`` (every subagent) and ``task:<type>`` to ``True`` or
    an approval config (``{"allowed_decisions": [...], "description": ..., "when": ...}``)."""

    def __init__(self, interrupt_on: Mapping[str, Any] | None) -> None:
        self._gates: dict[str, Gate] = {}
        self.names: frozenset[str] = frozenset(interrupt_on or {})
        """Every name given, gated or not (``False``), to check against the agent's tools."""
        for name, config in (interrupt_on or {}).items():
            if not isinstance(name, str):
                raise TypeError(f"interrupt_on keys must be tool names, got {name!r}")
            if config is True:
                self._gates[name] = Gate(list(ALL_DECISIONS))
            elif config is False or config is None:
                continue
            elif isinstance(config, Mapping) and config.get("allowed_decisions"):
                unknown = set(config["allowed_decisions"]) - set(ALL_DECISIONS)
                if unknown:
                    raise ValueError(f"interrupt_on[{name!r}]: unknown decision types {sorted(unknown)}; "
                                     f"allowed are {ALL_DECISIONS}")
                self._gates[name] = Gate(list(config["allowed_decisions"]), config.get("description"),
                                         config.get("when"))
            else:
                raise ValueError(f"interrupt_on[{name!r}] must be True, False or a config with a non-empty "
                                 f"'allowed_decisions' list, got {config!r}")

    def with_agent_gates(self, agent: Gates) -> Gates:
        """These gates plus the agent's own (``create_deep_agent(interrupt_on=...)``) for every
        name these do not gate: a call from JavaScript is reviewed whenever the same call made
        directly would be. A name gated here keeps this configuration."""
        merged = Gates(None)
        merged.names = self.names
        merged._gates = {**agent._gates, **self._gates}
        return merged

    def unknown_names(self, tool_names: frozenset[str]) -> list[str]:
        """Names that match no tool of the agent (``task:<type>`` needs the ``task`` tool)."""
        return sorted(n for n in self.names
                      if n not in tool_names and not (n.split(":", 1)[0] == "task" and "task" in tool_names))

    def for_tool(self, tool_name: str) -> Gate | None:
        return self._gates.get(tool_name)

    def for_subagent(self, subagent_type: str) -> Gate | None:
        return self._gates.get(f"task:{subagent_type}") or self._gates.get("task")

    def gated_subagents(self) -> list[str] | None:
        """The gated subagent types ("*" for all), or None when none is gated."""
        if "task" in self._gates:
            return ["*"]
        types = [name.removeprefix("task:") for name in self._gates if name.startswith("task:")]
        return types or None


# ---- what waits for the reviewer -------------------------------------------------------------------

@dataclass
class Blocked:
    """A call the program waits on that only the reviewer can release.

    ``tool``: a gated ``tools.*`` call. ``task``: a gated ``task()`` dispatch. ``nested``: a
    dispatched subagent that paused on its own; ``interrupts`` are its LangGraph interrupts
    (``{"id", "value"}``), the reviewer's decisions go back to it, and ``description`` is the
    prefix put before the descriptions of its own actions. ``rerun``: a call that was still
    running when the program paused (it had not finished within ``pause_grace``); it is not shown
    to the reviewer and starts again when the program continues (a subagent from its checkpoint).
    ``fetch``: an HTTP request the network policy holds for review; ``args`` is the request
    (method, URL, headers, body; no secrets), and only approve or reject apply.
    """

    call_id: int
    kind: Literal["tool", "task", "nested", "rerun", "fetch"]
    name: str
    args: dict[str, Any]
    description: str = ""
    allowed: list[str] = field(default_factory=lambda: list(ALL_DECISIONS))
    dispatch: dict[str, Any] | None = None
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_ns: str = ""  # nested: where the subagent's checkpoints are (it continues from them)

    def actions(self) -> list[tuple[ActionRequest, ReviewConfig]]:
        if self.kind == "rerun":
            return []
        if self.kind != "nested":
            action = ActionRequest(name=self.name, args=self.args, description=self.description)
            return [(action, _review(self.name, self.allowed))]
        return [pair for item in self.interrupts for pair in _nested_actions(item["value"], self.description)]

    def answers(self, decisions: list[dict[str, Any]]) -> dict[str, Any]:
        """For a nested pause: the resume value of each of the subagent's interrupts."""
        out, at = {}, 0
        for item in self.interrupts:
            count = len(_nested_actions(item["value"], ""))
            out[item["id"]] = _nested_answer(item["value"], decisions[at:at + count])
            at += count
        return out


def _review(name: str, allowed: list[str]) -> ReviewConfig:
    return ReviewConfig(action_name=name, allowed_decisions=cast(list[DecisionType], list(allowed)))


def _nested_actions(value: Any, prefix: str) -> list[tuple[ActionRequest, ReviewConfig]]:
    """A subagent's own interrupt as actions for the combined request."""
    if isinstance(value, Mapping) and isinstance(value.get("action_requests"), list):
        configs = {c.get("action_name"): c for c in value.get("review_configs", []) if isinstance(c, Mapping)}
        pairs = []
        for request in value["action_requests"]:
            name = str(request.get("name", ""))
            action = ActionRequest(name=name, args=dict(request.get("args") or {}),
                                   description=f"{prefix}{request.get('description', '')}")
            config = configs.get(name) or {"allowed_decisions": list(ALL_DECISIONS)}
            pairs.append((action, _review(name, list(config["allowed_decisions"]))))
        return pairs
    if isinstance(value, Mapping) and value.get("type") == "tool_approval":
        name = str(value.get("name", ""))
        action = ActionRequest(name=name, args=dict(value.get("args") or {}),
                               description=f"{prefix}{value.get('description', '')}")
        return [(action, _review(name, ALL_DECISIONS))]
    action = ActionRequest(name="task", args={"question": value},
                           description=f"{prefix}The subagent asks for an answer; reply with a "
                                       "'respond' decision whose message is the answer.")
    return [(action, _review("task", ["respond"]))]


def _nested_answer(value: Any, decisions: list[dict[str, Any]]) -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("action_requests"), list):
        return {"decisions": decisions}
    if isinstance(value, Mapping) and value.get("type") == "tool_approval":
        return decisions[0]
    return decisions[0].get("message")


def build_request(blocked: Sequence[Blocked]) -> HITLRequest:
    pairs = [pair for item in blocked for pair in item.actions()]
    return HITLRequest(action_requests=[a for a, _ in pairs], review_configs=[c for _, c in pairs])


def response_schema(blocked: Sequence[Blocked], tool_named: Callable[[str], BaseTool | None]) -> Any:
    """The type LangGraph checks the reviewer's answer against before saving it: one decision
    per action, of the types its review config allows, an edit's arguments in the tool's own
    schema (as ``HumanInTheLoopMiddleware`` does per call). A wrong answer raises and is not
    saved, so the same pause can be answered again. When the only thing waiting is one
    subagent's own question, its bare answer is accepted too (see ``lone_question``)."""
    members = []
    for item in blocked:
        for action, config in item.actions():
            tool = None if item.kind in ("nested", "fetch") else tool_named(action["name"])
            members.append(_decision_schema(config["allowed_decisions"], action["name"], tool))
    review = TypedDict("EvalReview", {"decisions": tuple[tuple(members)]})  # type: ignore[misc]
    if lone_question(blocked):
        return review | Annotated[Any, AfterValidator(_not_decisions)]
    return review


def lone_question(blocked: Sequence[Blocked]) -> bool:
    """Whether the reviewer is asked exactly one thing and it is a subagent's own question (a
    bare ``interrupt(value)`` in the subagent, not an approval request). Its answer may then be
    given bare, as for the subagent's interrupt itself: ``Command(resume="yes")`` or LangGraph's
    ``Command(resume={interrupt.id: "yes"})``, as well as ``{"decisions": [{"type": "respond",
    "message": "yes"}]}``."""
    asking = [item for item in blocked if item.actions()]
    return (len(asking) == 1 and asking[0].kind == "nested" and len(asking[0].interrupts) == 1
            and _is_question(asking[0].interrupts[0]["value"]))


def _is_question(value: Any) -> bool:
    return not (isinstance(value, Mapping)
                and (isinstance(value.get("action_requests"), list) or value.get("type") == "tool_approval"))


def _not_decisions(value: Any) -> Any:
    if isinstance(value, Mapping) and "decisions" in value:
        raise ValueError("a {'decisions': [...]} answer must give the question one decision it allows (respond)")
    return value


def split_decisions(blocked: Sequence[Blocked], response: Any) -> list[list[dict[str, Any]]]:
    """The reviewer's ``{"decisions": [...]}`` cut into one slice per blocked call, checked the
    way ``HumanInTheLoopMiddleware`` checks them (count, and allowed types for our gates)."""
    if lone_question(blocked) and not (isinstance(response, Mapping) and "decisions" in response):
        response = {"decisions": [{"type": "respond", "message": response}]}  # the question's bare answer
    decisions = response.get("decisions") if isinstance(response, Mapping) else None
    if not isinstance(decisions, (list, tuple)) or not all(isinstance(d, Mapping) for d in decisions):
        raise ValueError(f"expected a resume value {{'decisions': [...]}} answering the eval tool's "
                         f"approval request, got {response!r}")
    sizes = [len(item.actions()) for item in blocked]
    if len(decisions) != sum(sizes):
        raise ValueError(f"Number of human decisions ({len(decisions)}) does not match number of "
                         f"calls waiting for review in the JavaScript program ({sum(sizes)}).")
    slices, at = [], 0
    for item, size in zip(blocked, sizes, strict=True):
        part = [dict(d) for d in decisions[at:at + size]]
        at += size
        if item.kind in ("tool", "task", "fetch"):
            kind = part[0].get("type")
            if kind not in item.allowed:
                raise ValueError(f"Unexpected human decision: {part[0]}. Decision type {kind!r} is not "
                                 f"allowed for {item.name!r}; expected one of {item.allowed}.")
            if kind == "edit" and not isinstance((part[0].get("edited_action") or {}).get("args"), Mapping):
                raise ValueError(f"an 'edit' decision needs edited_action.args (an object), got {part[0]}")
            if kind == "edit" and part[0]["edited_action"].get("name", item.name) != item.name:
                raise ValueError(f"an 'edit' decision cannot turn a call to {item.name!r} into a call to "
                                 f"{part[0]['edited_action']['name']!r}")
        slices.append(part)
    return slices


# ---- the record ---------------------------------------------------------------------------------------

@dataclass
class PauseRecord:
    """One paused ``eval`` call: the suspended VM and what it waits on. It lives in graph state
    (``_quickbox_pauses[<tool call id>]``), so the checkpointer keeps it with everything else."""

    code: str  # sha256 of the program, so a record never continues another program
    snapshot: bytes
    blocked: list[Blocked]
    ptc_calls: int
    stdout: str
    stdout_dropped: int

    def to_state(self, mac_key: bytes | None) -> dict[str, Any]:
        value: dict[str, Any] = {"version": _RECORD_VERSION, "code": self.code, "snapshot": self.snapshot,
                                 "blocked": [_compact(asdict(b)) for b in self.blocked],
                                 "ptc_calls": self.ptc_calls,
                                 "stdout": self.stdout, "stdout_dropped": self.stdout_dropped}
        if mac_key is not None:
            value["mac"] = _mac(mac_key, value)
        return value

    @classmethod
    def from_state(cls, value: Mapping[str, Any], mac_key: bytes | None, *, what: str) -> PauseRecord:
        """The record in ``value``; RecordRefused when it fails its integrity check or is not one."""
        fields = {k: v for k, v in value.items() if k not in ("mac", ANSWER, CLAIM)}
        mac = value.get("mac")
        if mac_key is not None and not (isinstance(mac, str) and hmac.compare_digest(mac, _mac(mac_key, fields))):
            raise RecordRefused(f"the pause record of {what} failed its integrity check (altered, written for "
                                "another thread, or signed with another key)")
        if fields.get("version") != _RECORD_VERSION:
            raise RecordRefused(f"the pause record of {what} has version {fields.get('version')!r}; this version "
                                f"reads {_RECORD_VERSION}")
        try:
            fields.pop("version")
            fields["blocked"] = [Blocked(**b) for b in fields["blocked"]]
            if not isinstance(fields["snapshot"], bytes):
                raise TypeError("the snapshot is not bytes")
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as error:
            raise RecordRefused(f"the pause record of {what} is malformed ({error!r})") from error


ANSWER = "answer"
"""Key of the reviewer's decisions in a state record, written by the step that raised the interrupt."""
CLAIM = "claim"
"""Key of the claim token of the run that received the answer (see _claims)."""


def program_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def blocked_of(value: Mapping[str, Any]) -> list[Blocked]:
    """The calls a state record waits on (not yet checked: only to show the reviewer; the step
    that continues the program checks the record before anything runs)."""
    return [Blocked(**b) for b in value.get("blocked", [])]


def _compact(blocked: dict[str, Any]) -> dict[str, Any]:
    """Drops fields at their defaults: a record is written to every checkpoint of the thread."""
    defaults = {"description": "", "allowed": ALL_DECISIONS, "dispatch": None, "interrupts": [],
                "checkpoint_ns": ""}
    return {k: v for k, v in blocked.items() if k not in defaults or v != defaults[k]}


def _mac(key: bytes, value: Mapping[str, Any]) -> str:
    hashed = {**value, "snapshot": hashlib.sha256(value.get("snapshot") or b"").hexdigest()}
    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def derive_key(key: bytes | None, purpose: str, *scope: str) -> bytes | None:
    """A key for one purpose and scope (thread, tool call), so a signature made for one thread
    does not verify in another."""
    if key is None:
        return None
    label = "\x00".join(("quickbox.langchain/v1", purpose, *scope)).encode()
    return hmac.new(key, label, hashlib.sha256).digest()


def merge_pauses(current: dict[str, Any] | None, update: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer of ``_quickbox_pauses``: parallel ``eval`` calls each write their own entry; None
    removes one."""
    merged = dict(current or {})
    for key, value in (update or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def jsonable(value: Any) -> Any:
    """``value`` as JSON data (what the store and the checkpointer can keep)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if not isinstance(v, quickbox.Undefined)}
    if isinstance(value, (list, tuple)):
        return [None if isinstance(v, quickbox.Undefined) else jsonable(v) for v in value]
    return str(value)
