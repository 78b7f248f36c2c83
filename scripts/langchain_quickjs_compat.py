"""Runs langchain-quickjs 0.3.10's own tests against quickbox.langchain through a shim that renames
the package, and reports its public-behaviour tests file by file (docs/langchain.md has the table).

    build/venv/bin/python scripts/langchain_quickjs_compat.py [--work DIR] [--timeout SECONDS]

Needs the environment `make test-python` builds (build/venv with python/requirements/langchain.txt).
The source distribution, which ships the tests, is downloaded once with pip, hash-pinned, into
DIR (default build/langchain-quickjs-compat); nothing of it enters the repository.

The shim (written into DIR/run, beside a copy of the tests):

- ``langchain_quickjs`` *is* ``quickbox.langchain`` (one ``sys.modules`` entry).
- Upstream's internal modules (``langchain_quickjs._ptc``, ``_repl``, ``_format``, ``_prompt``,
  ``_snapshot``, ``_subagent``), its engine (``quickjs_rs``) and its delta library (``bsdiff4``)
  are stand-ins that import but raise ``UpstreamInternal`` when used, so files that mix public and
  internal tests can be collected. One upstream constant has our equal:
  ``_repl._DEFAULT_MAX_SUBAGENT_CONCURRENCY`` is 32, our default too.
- Docker's ``testcontainers.postgres.PostgresContainer`` is a stand-in that starts a local
  PostgreSQL server (python/tests/langchain/postgres_server.py), so upstream's PostgreSQL test
  runs against a real server without Docker.

A test is *public behaviour* when it uses only what a user of the package uses: the
middleware's arguments, its tools, the hooks an agent calls, and the agent's results, streams
and state. Tests of upstream's internals (its private modules, attributes, methods and state
keys, its engine) are run but not counted: ``INTERNAL_FILES`` and ``PUBLIC_TESTS`` below list
which is which. Every public test must pass except those in ``EXPECTED_FAILURES`` (each with its
reason). Exit status 1 when a public test fails for no listed reason, a listed failure passes (the
list must stay true), a file does not finish within --timeout, or a file collects no tests.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

VERSION = "0.3.10"
SDIST_SHA256 = "92a706b7b44ede7aadfcbf575612e0d894819084580e3ee18538e60df85e571c"
REPO = Path(__file__).resolve().parent.parent

# Files whose every test exercises upstream's internals (their private modules or attributes).
INTERNAL_FILES = {
    "unit_tests/test_ptc.py": "its private _ptc helpers, _ThreadREPL on quickjs_rs, or _prepare_for_call",
    "unit_tests/test_prompt_modes.py": "its private _prompt renderers",
    "unit_tests/test_subagent_events.py": "its private _subagent.call_subagent_task_tool",
}
# Files that mix both kinds: their public-behaviour tests (the others use _registry, _mode,
# _base_prompt, _snapshot_update, upstream's private state keys, _repl/_snapshot helpers or
# quickjs_rs directly).
PUBLIC_TESTS = {
    "unit_tests/test_repl_middleware.py": {
        "test_tool_registered_with_default_name", "test_tool_registered_with_custom_name",
        "test_legacy_system_prompt_alias_removed", "test_rejects_invalid_max_ptc_calls",
        "test_rejects_invalid_max_snapshot_bytes", "test_system_prompt_injected_once",
        "test_system_prompt_includes_subagent_guidance_when_specs_configured",
        "test_system_prompt_omits_subagent_guidance_when_disabled", "test_rejects_invalid_mode",
        "test_invalid_max_subagent_concurrency",
    },
    "unit_tests/test_snapshot.py": {"test_empty_key_rejected_at_construction"},
}
# Public-behaviour tests that fail, and why (by test function: every parameter fails alike).
EXPECTED_FAILURES = {
    "unit_tests/test_end_to_end.py::test_ptc_calls_surface_in_native_tool_stream":
        "asserts upstream's child tool-call id format (ptc_<tool>_<uuid>); ours is "
        "<eval call id>:tools.<name>#<n>, which names the eval call and the call and stays the same "
        "when a paused program continues (kept)",
    "unit_tests/test_subagent_replay.py::test_fanout_keeps_three_ids_across_checkpoint_resumes":
        "asserts upstream's replay: every resume runs the program again from the top, so each round "
        "streams a start event for all three subagents and the last round a complete for all three; "
        "here a resumed program continues from its snapshot and a finished subagent never starts again "
        "(kept). Its cleanup also calls the private middleware._registry.close(). The scenario itself, "
        "resumed as this test resumes, passes in python/tests/langchain/test_no_stalls.py",
    "unit_tests/smoke_tests/test_system_prompt.py::test_system_prompt_snapshot_no_tools":
        "compares with upstream's exact system prompt text (snapshot files); the prompt is quickbox's own",
    "unit_tests/smoke_tests/test_system_prompt.py::test_system_prompt_snapshot_with_mixed_foreign_functions":
        "compares with upstream's exact system prompt text (snapshot files); the prompt is quickbox's own",
    "unit_tests/test_repl_middleware.py::test_system_prompt_injected_once":
        "asserts upstream's prompt wording ('7.0s per call', '32 MB total'); its stand-in request (a "
        "MagicMock) also lacks the tools every ModelRequest has",
    "unit_tests/test_repl_middleware.py::test_system_prompt_includes_subagent_guidance_when_specs_configured":
        "asserts upstream's prompt heading '### Dispatching Subagents with `task`'",
    "integration_tests/test_postgres.py::test_ptc_task_with_postgres_checkpointer_keeps_loop_affinity":
        "passes ptc=['task'], which upstream 0.3.10 refuses too (its test fails the same way there); "
        "here the middleware refuses it when built: subagents are reached through the task() global",
}


@dataclass
class FileReport:
    path: str
    public: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    internal: int = 0
    problem: str = ""
    slowest: tuple[float, str] = (0.0, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=REPO / "build" / "langchain-quickjs-compat")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per test file (default 600)")
    args = parser.parse_args()
    run = prepare(args.work)
    reports = [run_file(run, path, args.timeout) for path in test_files(run)]
    return report(reports)


def prepare(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    sdist = work / f"langchain_quickjs-{VERSION}.tar.gz"
    if not sdist.exists():
        pins = work / "requirements.txt"
        pins.write_text(f"langchain-quickjs=={VERSION} --hash=sha256:{SDIST_SHA256}\n")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--require-hashes", "-r", str(pins), "-d", str(work)], check=True)
    run = work / "run"
    if not (run / "tests").exists():
        with tarfile.open(sdist) as archive:
            prefix = f"langchain_quickjs-{VERSION}/tests/"
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            for member in members:
                member.name = member.name.removeprefix(f"langchain_quickjs-{VERSION}/")
            archive.extractall(run, members=members, filter="data")
    write_shim(run)
    return run


def write_shim(run: Path) -> None:
    files = {
        "pytest.ini": """
            [pytest]
            asyncio_mode = auto
            asyncio_default_fixture_loop_scope = function
            """,
        "upstream_internal.py": '''
            """Stand-ins for what langchain-quickjs has and quickbox does not: importing works, using raises."""
            import types


            class UpstreamInternal(Exception):
                """The test used an internal of langchain-quickjs; it is not counted."""


            class Absent:
                def __init__(self, name):
                    self._name = name

                def __call__(self, *args, **kwargs):
                    raise UpstreamInternal(self._name)

                def __getattr__(self, attr):
                    raise UpstreamInternal(f"{self._name}.{attr}")


            def absent_module(name, **equal):
                module = types.ModuleType(name)
                module.__dict__.update(equal)

                def __getattr__(attr):
                    if attr.startswith("__"):
                        raise AttributeError(attr)
                    return Absent(f"{name}.{attr}")

                module.__getattr__ = __getattr__
                return module
            ''',
        "langchain_quickjs/__init__.py": """
            import sys

            import quickbox.langchain
            from upstream_internal import absent_module

            _EQUAL = {"_repl": {"_DEFAULT_MAX_SUBAGENT_CONCURRENCY": 32}}  # our default too
            for _name in ("_ptc", "_repl", "_format", "_prompt", "_snapshot", "_subagent"):
                sys.modules[f"{__name__}.{_name}"] = absent_module(f"{__name__}.{_name}", **_EQUAL.get(_name, {}))
            sys.modules[__name__] = quickbox.langchain
            """,
        "quickjs_rs/__init__.py": """
            import sys

            from upstream_internal import absent_module

            sys.modules[__name__] = absent_module(__name__)
            """,
        "docker/__init__.py": "",
        "docker/errors.py": """
            class DockerException(Exception):
                pass
            """,
        "testcontainers/__init__.py": "",
        "testcontainers/postgres.py": '''
            """A local PostgreSQL server where upstream's test asks Docker for one."""
            from docker.errors import DockerException
            from postgres_server import missing, postgres_server


            class PostgresContainer:
                def __init__(self, image):
                    self._server = postgres_server()

                def __enter__(self):
                    reason = missing()
                    if reason is not None:
                        raise DockerException(reason)
                    self._dsn = self._server.__enter__()
                    return self

                def __exit__(self, *exc):
                    return self._server.__exit__(*exc)

                def get_connection_url(self):
                    return self._dsn
            ''',
    }
    files["bsdiff4/__init__.py"] = files["quickjs_rs/__init__.py"]
    for name, text in files.items():
        path = run / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def test_files(run: Path) -> list[str]:
    tests = run / "tests"
    found = sorted(tests.glob("unit_tests/**/test_*.py")) + sorted(tests.glob("integration_tests/test_*.py"))
    return [str(p.relative_to(tests)) for p in found]


def run_file(run: Path, path: str, timeout: float) -> FileReport:
    result = FileReport(path)
    xml = run / "results" / (path.replace("/", "__") + ".xml")
    xml.parent.mkdir(exist_ok=True)
    xml.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(run), str(REPO / "python" / "tests" / "langchain")])}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "faulthandler_timeout=120",
               f"--junitxml={xml}", f"tests/{path}"]
    print(f"running {path} ...", file=sys.stderr, flush=True)
    process = subprocess.Popen(command, cwd=run, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        result.problem = f"did not finish within {timeout:g} s:\n" + "\n".join(output.splitlines()[-40:])
        return result
    if not xml.exists():
        result.problem = "pytest wrote no results:\n" + output[-4000:]
        return result
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("name", "")
        result.slowest = max(result.slowest, (float(case.get("time") or 0), name))
        if not is_public(path, name.split("[")[0]):
            result.internal += 1
            continue
        result.public.append(name)
        outcome = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            result.passed.append(name)
        elif outcome.tag == "skipped":
            result.skipped[name] = outcome.get("message", "")
        else:
            result.failed[name] = (outcome.get("message") or "").splitlines()[0][:300] if outcome.get("message") else ""
    if not result.public and not result.internal:
        result.problem = "no tests were collected:\n" + output[-4000:]
    return result


def is_public(path: str, function: str) -> bool:
    if path in INTERNAL_FILES:
        return False
    return function in PUBLIC_TESTS[path] if path in PUBLIC_TESTS else True


def report(reports: list[FileReport]) -> int:
    bad = []
    print(f"langchain-quickjs {VERSION} tests against quickbox.langchain (public-behaviour tests)\n")
    print(f"{'file':58} {'passed':>7} {'public':>7} {'skipped':>8} {'internal':>9}")
    for r in reports:
        print(f"{r.path:58} {len(r.passed):>7} {len(r.public):>7} {len(r.skipped):>8} {r.internal:>9}")
        if r.problem:
            bad.append(f"{r.path}: {r.problem}")
    total = lambda attr: sum(len(getattr(r, attr)) for r in reports)  # noqa: E731
    print(f"{'total':58} {total('passed'):>7} {total('public'):>7} {total('skipped'):>8} "
          f"{sum(r.internal for r in reports):>9}")
    seconds, slowest, where = max((r.slowest + (r.path,) for r in reports), default=(0.0, "", ""))
    print(f"slowest test: {seconds:.1f} s ({where}::{slowest})\n")

    print("Public-behaviour tests that fail, and why:")
    seen_expected = set()
    for r in reports:
        for name, message in r.failed.items():
            key = f"{r.path}::{name.split('[')[0]}"
            reason = EXPECTED_FAILURES.get(key)
            if reason is None:
                bad.append(f"{r.path}::{name} failed for no listed reason: {message}")
                continue
            seen_expected.add(key)
            print(f"- {r.path}::{name}\n    {reason}")
    for r in reports:
        for name, message in r.skipped.items():
            print(f"- skipped {r.path}::{name}: {message}")
    ran = {f"{r.path}::{n.split('[')[0]}" for r in reports for n in r.public if n not in r.skipped}
    for key in EXPECTED_FAILURES:
        if key in ran and key not in seen_expected:
            bad.append(f"{key} is listed as failing but passed: update EXPECTED_FAILURES and docs/langchain.md")
    if bad:
        print("\nPROBLEMS:\n" + "\n".join(f"- {line}" for line in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
