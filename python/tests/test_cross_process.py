"""A suspended program survives its process: one process runs it until it waits for approval, a
second restores the snapshot, approves, and runs it to the next pause (an external answer), a
third answers and finishes it. Every side effect happens exactly once, in the process that ran
it. The processes are real (tests/_peer.py), one after the other, never alive together."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import quickbox
from _peer import KEY

PEER = Path(__file__).with_name("_peer.py")


def run_peer(step: str, state: Path, effects: Path) -> dict[str, Any]:
    child = subprocess.run([sys.executable, str(PEER), step, str(state), str(effects)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, f"_peer.py {step} failed ({child.returncode}):\n{child.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return report


def effects_by_process(effects: Path) -> list[tuple[int, str]]:
    lines = effects.read_text().splitlines() if effects.exists() else []
    return [(int(pid), event) for pid, event in (line.split(" ", 1) for line in lines)]


def test_a_suspended_program_is_resumed_by_other_processes_and_nothing_runs_twice(tmp_path: Path) -> None:
    state, effects = tmp_path / "program.qbsnap", tmp_path / "effects.log"

    first = run_peer("start", state, effects)
    assert not first["done"]
    assert first["pending"] == [["transfer", [250], True]]
    assert effects_by_process(effects) == [(first["pid"], "started")], "the transfer waits for approval"
    info = quickbox.Snapshot.from_bytes(state.read_bytes()).info(key=KEY)
    assert info["signed"] and info["suspended"]

    second = run_peer("settle", state, effects)
    assert second["pid"] != first["pid"]
    assert not second["done"]
    assert second["pending"] == [["ask_user", ["a note for receipt-250?"], False]]

    third = run_peer("settle", state, effects)
    assert third["pid"] not in (first["pid"], second["pid"])
    assert third["done"]
    assert third["value"] == {"receipt": "receipt-250", "note": "ship it"}

    assert effects_by_process(effects) == [
        (first["pid"], "started"),
        (second["pid"], "transfer 250"),
        (second["pid"], "transferred: receipt-250"),
        (third["pid"], "noted: ship it"),
    ]
