"""Shared fixtures: a runtime with the default limits and a context from it, both closed after
each test so no sandbox outlives the test that made it."""

from collections.abc import Iterator

import pytest

import quickbox


@pytest.fixture
def rt() -> Iterator[quickbox.Runtime]:
    with quickbox.Runtime() as runtime:
        yield runtime


@pytest.fixture
def ctx(rt: quickbox.Runtime) -> Iterator[quickbox.Context]:
    with rt.new_context() as context:
        yield context
