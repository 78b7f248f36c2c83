"""One step of a durable program, run as its own process by test_cross_process.py.

    python _peer.py start  STATE EFFECTS   runs PROGRAM until it suspends, saves it to STATE
    python _peer.py settle STATE EFFECTS   restores STATE, approves or answers the pending call,
                                           resumes; saves it again if it suspends again

Each step prints one JSON line: {"pid", "done", "value", "pending"}. Side effects append
"<pid> <event>" lines to EFFECTS, so the test can see what ran where, and how many times.
"""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import quickbox

KEY = b"cross-process test key, 32 bytes"

PROGRAM = """
record('started');
const receipt = await transfer(250);
record('transferred: ' + receipt);
const note = await ask_user('a note for ' + receipt + '?');
record('noted: ' + note);
({receipt, note})
"""

ANSWER = "ship it"


def register(ctx: quickbox.Context, effects: Path) -> None:
    """The program's host functions, registered the same way in every process."""
    def record(event: str) -> None:
        with effects.open("a") as out:
            out.write(f"{os.getpid()} {event}\n")

    def transfer(amount: int) -> str:
        record(f"transfer {amount}")
        return f"receipt-{amount}"

    ctx.register("record", record)
    ctx.register("transfer", transfer, policy=quickbox.Policy(requires_approval=True))
    ctx.ask("ask_user")


def report(ctx: quickbox.Context, result: quickbox.EvalResult, state: Path) -> None:
    if result.suspended:
        state.write_bytes(ctx.create_snapshot(key=KEY).to_bytes())
    print(json.dumps({
        "pid": os.getpid(),
        "done": result.done,
        "value": result.value,
        "pending": [[c.name, c.args, c.needs_approval] for c in result.pending],
    }))


async def start(rt: quickbox.Runtime, state: Path, effects: Path) -> None:
    with rt.new_context() as ctx:
        register(ctx, effects)
        report(ctx, await ctx.start(PROGRAM), state)


async def settle(rt: quickbox.Runtime, state: Path, effects: Path) -> None:
    snapshot = quickbox.Snapshot.from_bytes(state.read_bytes())
    with rt.restore(snapshot, key=KEY) as ctx:
        register(ctx, effects)
        [call] = ctx.pending
        if call.needs_approval:
            ctx.approve(call.id)
        else:
            ctx.answer(call.id, ANSWER)
        report(ctx, await ctx.resume(), state)


def main(argv: list[str]) -> None:
    step, state, effects = argv[1], Path(argv[2]), Path(argv[3])
    steps: dict[str, Any] = {"start": start, "settle": settle}
    with quickbox.Runtime() as rt:
        asyncio.run(steps[step](rt, state, effects))


if __name__ == "__main__":
    main(sys.argv)
