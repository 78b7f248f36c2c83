"""examples/agent_approval.py runs without an API key: the first process stops at the approval
and exits, a second one approves and the same program finishes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[3] / "examples" / "agent_approval.py"


def run_example(*args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_example_pauses_in_one_process_and_finishes_in_another(tmp_path: Path) -> None:
    first = run_example("--state", str(tmp_path))
    assert "[subagent eval-1:task#2] start: release notes" in first
    assert "[subagent eval-1:task#3] complete" in first
    assert "Waiting for approval:\n  - publish_release(" in first and "allowed: approve, edit, reject, respond" in first
    assert not (tmp_path / "published.txt").exists()
    second = run_example("approve", "--state", str(tmp_path))
    assert "[publish_release] published 2.4.0 with 1 breaking change(s)" in second
    assert "[agent] Release 2.4.0 is out." in second
    assert (tmp_path / "published.txt").read_text() == "2.4.0\n"


def test_the_example_can_run_again_after_a_finished_run(tmp_path: Path) -> None:
    run_example("--state", str(tmp_path))
    run_example("approve", "--state", str(tmp_path))
    again = run_example("--state", str(tmp_path))
    assert "Waiting for approval:\n  - publish_release(" in again
    finished = run_example("reject", "not twice", "--state", str(tmp_path))
    assert "[agent] Release 2.4.0 was not published." in finished
    assert (tmp_path / "published.txt").read_text() == "2.4.0\n"
