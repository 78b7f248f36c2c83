"""Fixtures for the LangChain integration tests: agents are real Deep Agents graphs driven by
scripted chat models (no network), with real checkpointers and stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scripted_agents import Effects

HERE = Path(__file__).parent


@pytest.fixture
def effects(tmp_path: Path) -> Effects:
    return Effects(tmp_path / "effects.log")


@pytest.fixture
def approval_process() -> Callable[..., dict[str, Any]]:
    """Runs approval_process.py in a new OS process and returns the JSON line it prints."""
    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, str(HERE / "approval_process.py"), *args], capture_output=True,
                              text=True, timeout=120, env=dict(os.environ), check=False)
        assert done.returncode == 0, f"approval_process.py {args[3]} failed:\n{done.stderr}"
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    return run
