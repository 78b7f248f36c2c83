"""quickbox for LangChain and Deep Agents: a JavaScript interpreter tool with durable approvals.

    from deepagents import create_deep_agent
    from quickbox.langchain import CodeInterpreterMiddleware

    agent = create_deep_agent(model=..., tools=[search, send_email], middleware=[
        CodeInterpreterMiddleware(ptc=["search", "send_email"], interrupt_on={"send_email": True}),
    ], checkpointer=...)

``CodeInterpreterMiddleware`` takes the keyword arguments of ``langchain_quickjs`` (switch by
changing the import) and adds ``interrupt_on``, ``max_concurrent_subagents``,
``max_subagent_calls``, ``wall_timeout``, ``pause_grace`` and ``trace_policy``. The agent's own
``create_deep_agent(interrupt_on=...)`` gates calls from JavaScript too, and misspelt ``ptc`` /
``interrupt_on`` names are refused when the agent is built. The model gets an ``eval`` tool; in JavaScript,
``tools.<camelCase>(input)`` calls agent tools and ``task({description, subagentType,
responseSchema?})`` runs Deep Agents subagents.

Durable pauses
--------------
When the program calls a tool or dispatches a subagent that ``interrupt_on`` gates, or a
dispatched subagent pauses for its own review, the call stays pending inside the VM (a pending
promise: JavaScript cannot observe or catch a pause). Once the program cannot go on without a
person, the ``eval`` tool ends its step with the suspended VM in graph state (the private key
``_quickbox_pauses``, one record per tool call) and a placeholder tool message; the checkpointer
saves both. The next step (this middleware's ``before_model``) raises one LangGraph
``interrupt()`` whose value is a ``HumanInTheLoopMiddleware`` request listing every waiting call;
resuming with ``Command(resume={"decisions": [...]})`` writes the decisions next to the record and
goes back to the tools step, where the same program continues: approved and edited calls run,
rejected ones reject inside JavaScript, ``respond`` answers on the tool's behalf, and a paused
subagent continues from its checkpoint with its decisions. The final tool message replaces the
placeholder. A checkpointer is all this needs; calls that finished before a pause never run
again, and a process that dies while approved calls run repeats those calls when the graph is
resumed again (see docs/langchain.md).
"""

try:
    import deepagents as _deepagents  # noqa: F401
    import langchain as _langchain  # noqa: F401
    import langgraph as _langgraph  # noqa: F401
except ModuleNotFoundError as missing:  # pragma: no cover - exercised in a venv without the extra
    raise ModuleNotFoundError(
        f"quickbox.langchain needs {missing.name!r}, which comes with the 'langchain' extra: "
        "pip install 'quickbox[langchain]'", name=missing.name) from missing

from ._claims import PauseClaimed
from ._claims import release as release_pause_claims
from ._ptc import PTCOption
from ._repl import PTCCallBudgetExceeded
from ._subagent import (
    SUBAGENT_STREAM_EVENT_TYPE,
    SubagentCompleteEvent,
    SubagentErrorEvent,
    SubagentPausedEvent,
    SubagentStartEvent,
    SubagentStreamEvent,
)
from .middleware import CodeInterpreterMiddleware, CodeInterpreterState

__all__ = [
    "SUBAGENT_STREAM_EVENT_TYPE",
    "CodeInterpreterMiddleware",
    "CodeInterpreterState",
    "PTCCallBudgetExceeded",
    "PTCOption",
    "PauseClaimed",
    "SubagentCompleteEvent",
    "SubagentErrorEvent",
    "SubagentPausedEvent",
    "SubagentStartEvent",
    "SubagentStreamEvent",
    "release_pause_claims",
]
