"""quickbox for LangChain and Deep Agents: a JavaScript interpreter tool with durable approvals.

    from deepagents import create_deep_agent
    from quickbox.langchain import CodeInterpreterMiddleware

    agent = create_deep_agent(model=..., tools=[search, send_email], middleware=[
        CodeInterpreterMiddleware(ptc=["search", "send_email"], interrupt_on={"send_email": True}),
    ], checkpointer=..., store=...)

``CodeInterpreterMiddleware`` takes the keyword arguments of ``langchain_quickjs`` (switch by
changing the import) and adds ``interrupt_on``, ``max_concurrent_subagents``,
``max_subagent_calls`` and ``wall_timeout``. The model gets an ``eval`` tool; in JavaScript,
``tools.<camelCase>(input)`` calls agent tools and ``task({description, subagentType,
responseSchema?})`` runs Deep Agents subagents.

Durable pauses
--------------
When the program calls a tool or dispatches a subagent that ``interrupt_on`` gates, or a
dispatched subagent pauses for its own review, the call stays pending inside the VM (a pending
promise: JavaScript cannot observe or catch a pause). Once the program cannot go on without a
person, the ``eval`` tool raises one LangGraph ``interrupt()`` whose value is a
``HumanInTheLoopMiddleware`` request listing every waiting call; resuming with
``Command(resume={"decisions": [...]})`` continues the same program: approved and edited calls
run (the session runs them itself, with the edited arguments), rejected ones reject inside
JavaScript, ``respond`` answers on the tool's behalf, and a paused subagent gets its decisions.

LangGraph re-runs an interrupted node from its start, discards its state writes, and matches
``interrupt()`` calls by their order in the node. So before raising interrupt number *k*, the
session saves a record in the graph's ``BaseStore`` (namespace ``("quickbox", "suspended",
thread_id)``, key: the eval's tool-call id) holding, per round, the suspended VM's snapshot and
what each waiting call is. When the tool runs again it looks the record up first and does not
run the code again: it calls ``interrupt()`` for rounds 0..k-1 (their answers are already
inside the snapshot), takes the new answer from the *k*-th, restores the VM from round *k*'s
snapshot, re-registers its functions, applies the decisions and resumes. A further pause saves
round *k+1*; the end deletes the record and (``mode="thread"``) keeps the final VM in state.
Calls that finished before a pause are never run again; a process that dies while approved calls
run repeats those calls when the graph is resumed. Without a store the records live in the
process's memory (a warning is logged), and the pause does not survive a restart.
"""

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
    "SubagentCompleteEvent",
    "SubagentErrorEvent",
    "SubagentPausedEvent",
    "SubagentStartEvent",
    "SubagentStreamEvent",
]
