"""The store-call wrapper: every watcher sees the call's outcome, and none can change it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from backends import errors as be
from gateway.backendcalls import _wrapped
from gateway.metrics import Timed

pytestmark = pytest.mark.anyio


def recorder(seen: list[Any]) -> Any:
    def watcher(backend: str, operation: str) -> Timed:
        return Timed(lambda exc, seconds: seen.append((backend, operation, exc, seconds >= 0)))

    return watcher


def broken_on_enter(backend: str, operation: str) -> Any:
    raise RuntimeError("watcher broke on entry")


@contextlib.contextmanager
def broken_on_exit(backend: str, operation: str) -> Iterator[None]:
    yield
    raise RuntimeError("watcher broke on exit")


@contextlib.contextmanager
def swallower(backend: str, operation: str) -> Iterator[None]:
    with contextlib.suppress(Exception):
        yield  # would swallow the call's exception if its answer were obeyed


async def test_result_and_outcome_pass_through_broken_watchers() -> None:
    seen: list[Any] = []

    async def get(key: str) -> str:
        return f"value of {key}"

    watchers = [broken_on_enter, recorder(seen), broken_on_exit, swallower]
    call = _wrapped(get, "fs", "get_object", watchers)
    assert await call("k") == "value of k"
    assert seen == [("fs", "get_object", None, True)]


async def test_the_calls_exception_reaches_the_caller_and_every_watcher() -> None:
    seen: list[Any] = []
    failure = be.NoSuchKey("gone")

    async def get(key: str) -> str:
        raise failure

    call = _wrapped(get, "fs", "get_object", [recorder(seen), broken_on_exit, swallower, broken_on_enter])
    with pytest.raises(be.NoSuchKey) as raised:
        await call("k")
    assert raised.value is failure
    assert seen == [("fs", "get_object", failure, True)]
