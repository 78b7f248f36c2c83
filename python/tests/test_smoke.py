"""The package imports, evaluates, and reports its versions (the quick check; the specs live in
the other test files)."""

import ctypes
import subprocess

import pytest

import quickbox
import quickbox._quickbox


def test_evaluates_and_reports_versions() -> None:
    with quickbox.Runtime() as rt, rt.new_context() as ctx:
        assert ctx.eval("1 + 2") == 3
    info = quickbox.engine_info()
    assert info["quickjs_version"] == "0.18.0"
    assert info["wasmtime_version"].startswith("48.")
    assert len(info["guest_build_id"]) == 64


def test_the_extension_exports_its_entry_point_and_none_of_the_engines_symbols() -> None:
    # Exported, the engine's functions would be called through the PLT and could be replaced by
    # another library's of the same name (another build of wasmtime's C API, loaded globally).
    extension = ctypes.CDLL(quickbox._quickbox.__file__)
    assert extension.PyInit__quickbox
    for engine_symbol in ("wasmtime_engine_new", "wasmtime_func_call_unchecked", "wasm_config_new"):
        with pytest.raises(AttributeError):
            getattr(extension, engine_symbol)
    engine_names = ("_ZN8quickbox", "wasmtime_", "wasm_", "quickbox_")
    exported = exported_symbols(quickbox._quickbox.__file__)
    assert "PyInit__quickbox" in exported
    assert not [name for name in exported if name.startswith(engine_names)]


def exported_symbols(path: str) -> list[str]:
    """The dynamic symbols the shared object defines, as the linker sees them."""
    listed = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True)
    return [line.split()[-1] for line in listed.stdout.splitlines() if line.strip()]
