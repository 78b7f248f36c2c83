"""The package imports, evaluates, and reports its versions (the quick check; the specs live in
the other test files)."""

import quickbox


def test_evaluates_and_reports_versions() -> None:
    with quickbox.Runtime() as rt, rt.new_context() as ctx:
        assert ctx.eval("1 + 2") == 3
    info = quickbox.engine_info()
    assert info["quickjs_version"] == "0.18.0"
    assert info["wasmtime_version"].startswith("48.")
    assert len(info["guest_build_id"]) == 64
