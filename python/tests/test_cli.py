"""Installing the package gives the `quickbox` command line: the executable is in the
environment's scripts directory (the venv's bin/, on PATH when the venv is active), runs, and
reports through its exit code. These tests run the installed command itself, as a user would."""

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import quickbox

SCRIPTS_DIR = Path(sysconfig.get_path("scripts"))


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Runs `quickbox ARGS` found on a PATH that starts with this environment's scripts dir."""
    env = dict(os.environ, PATH=os.pathsep.join([str(SCRIPTS_DIR), os.environ.get("PATH", "")]))
    command = shutil.which("quickbox", path=env["PATH"])
    assert command is not None, f"no quickbox command on PATH (expected one in {SCRIPTS_DIR})"
    return subprocess.run([command, *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_the_command_is_installed_next_to_the_interpreter() -> None:
    command = SCRIPTS_DIR / "quickbox"
    assert command.is_file()
    assert os.access(command, os.X_OK)
    assert shutil.which("quickbox", path=str(SCRIPTS_DIR)) == str(command)


def test_eval_prints_the_value() -> None:
    result = run("eval", "1+2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "3\n", "")


def test_version_matches_the_package_and_its_engine() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    info = quickbox.engine_info()
    # The same guest build id: the command and the extension come from the same engine build.
    assert result.stdout == (
        f"quickbox {quickbox.__version__}\n"
        f"quickjs-ng {info['quickjs_version']}\n"
        f"wasmtime {info['wasmtime_version']}\n"
        f"guest build id {info['guest_build_id']}\n"
    )


def test_an_uncaught_exception_exits_with_code_1() -> None:
    result = run("eval", "throw new TypeError('no such user')")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Uncaught TypeError: no such user\n")


def test_a_limit_exits_with_its_own_code() -> None:
    result = run("eval", "for (;;) {}", "--timeout", "100ms", "--json")
    assert result.returncode == 3
    assert json.loads(result.stdout)["error"]["kind"] == "Timeout"


def test_a_bad_flag_is_a_usage_error() -> None:
    result = run("eval", "--memory", "lots", "1")
    assert result.returncode == 2
    assert "invalid value 'lots' for --memory" in result.stderr


def test_run_reads_a_program_from_stdin() -> None:
    result = run("run", "-", stdin="const xs = [3, 1, 2];\nxs.sort()\n")
    assert (result.returncode, result.stdout) == (0, "[ 1, 2, 3 ]\n"), result.stderr
