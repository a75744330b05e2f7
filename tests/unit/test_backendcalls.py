"""The store-call wrapper: every watcher and timer sees the call's outcome, and none can change it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from backends import errors as be
from gateway.backendcalls import Ended, _wrapped

pytestmark = pytest.mark.anyio


def recorder(seen: list[Any]) -> Any:
    @contextlib.contextmanager
    def watcher(backend: str, operation: str) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            seen.append((backend, operation, exc, True))
            raise
        seen.append((backend, operation, None, True))

    return watcher


def timer(seen: list[Any], asked: list[tuple[str, str]] | None = None) -> Any:
    def ask(backend: str, operation: str) -> Ended:
        if asked is not None:
            asked.append((backend, operation))
        return lambda exc, seconds: seen.append((backend, operation, exc, seconds >= 0))

    return ask


def broken_timer(backend: str, operation: str) -> Ended:
    raise RuntimeError("timer broke when asked")


def broken_end(backend: str, operation: str) -> Ended:
    def end(exc: BaseException | None, seconds: float) -> None:
        raise RuntimeError("timer broke at the end")

    return end


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


async def test_timers_see_each_outcome_and_are_asked_once_per_operation() -> None:
    seen: list[Any] = []
    asked: list[tuple[str, str]] = []
    failure = be.NoSuchKey("gone")

    async def get(key: str) -> str:
        if key == "missing":
            raise failure
        return f"value of {key}"

    timers = [broken_timer, timer(seen, asked), broken_end]
    call = _wrapped(get, "fs", "get_object", [], timers)
    assert await call("a") == "value of a"
    with pytest.raises(be.NoSuchKey) as raised:
        await call("missing")
    assert raised.value is failure
    assert await call("b") == "value of b"
    assert seen == [
        ("fs", "get_object", None, True),
        ("fs", "get_object", failure, True),
        ("fs", "get_object", None, True),
    ]
    assert asked == [("fs", "get_object")]


async def test_a_timer_added_later_sees_the_calls_after_it() -> None:
    early: list[Any] = []
    late: list[Any] = []

    async def get(key: str) -> str:
        return key

    timers = [timer(early)]
    call = _wrapped(get, "fs", "head_object", [recorder([])], timers)
    await call("a")
    timers.append(timer(late))
    await call("b")
    assert len(early) == 2 and late == [("fs", "head_object", None, True)]
