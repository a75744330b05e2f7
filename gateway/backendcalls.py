"""Watching every call the gateway makes to a store: how long it took, how it ended, under which span.

The stores at the bottom of the backend tree (fs, s3, oss, obs: the nodes that hold no other backend) get
each coroutine method of the contract they implement wrapped on the instance (the contract's defaults
are no store call of their own: a refusal, or a call derived from watched ones, as the light listing), so the tree keeps its shape, the
composites above call the wrapped methods without knowing, and a method added to the contract later is
watched without a change here. Two kinds of watcher: timers (metrics' latency histogram, the status
page's window) are given each call's outcome and seconds, one clock read either side shared by all, their
receivers looked up once per (store, operation) rather than a context manager made per call; watchers
(OpenTelemetry's child spans) are context managers entered around each call. Neither may fail a call:
one that raises is logged and dropped from that call.

A streaming answer (``get_object``) is timed to the moment the store answered, not to the last byte: that
is the store's latency; the transfer is the request's.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

from backends.base import Backend
from gateway.metrics import walk

log = logging.getLogger("s3bridge")

#: A watcher: called with (backend name, operation), returns the context manager around the call.
Watcher = Callable[[str, str], AbstractContextManager[Any]]
#: What a timer answers for one (backend name, operation): called with each call's exception (None when
#: it returned) and its seconds.
Ended = Callable[[BaseException | None, float], None]
#: A timer: called once per (backend name, operation), on that operation's first call.
Timer = Callable[[str, str], Ended]
#: Methods that are no store call: the lifecycle.
_NOT_CALLS = frozenset({"start", "close"})
_MARK = "_s3bridge_watched"
_TIMERS = "_s3bridge_timers"


def contract_methods() -> list[str]:
    """The contract's coroutine methods, as ``backends.base.Backend`` declares them today."""
    return sorted(
        name
        for name, fn in inspect.getmembers(Backend, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in _NOT_CALLS
    )


def leaves(root: Backend) -> list[Backend]:
    """The stores of the tree: nodes holding no other backend."""
    return [
        node for node in walk(root) if not any(getattr(node, a, None) for a in ("inner", "members", "routes"))
    ]


def watch(root: Backend, watchers: list[Watcher], timers: list[Timer] | None = None) -> None:
    """Wrap the calls of every store under ``root`` once; ``watchers`` and ``timers`` may be added to
    later."""
    for store in leaves(root):
        existing: list[Watcher] | None = getattr(store, _MARK, None)
        if existing is not None:
            existing.extend(w for w in watchers if w not in existing)
            known: list[Timer] = getattr(store, _TIMERS)
            known.extend(t for t in timers or () if t not in known)
            continue
        shared, shared_timers = list(watchers), list(timers or ())
        setattr(store, _MARK, shared)
        setattr(store, _TIMERS, shared_timers)
        for name in contract_methods():
            if getattr(type(store), name) is getattr(Backend, name):
                continue  # the contract's default: a refusal, or derived from calls watched themselves
            method = getattr(store, name)
            setattr(store, name, _wrapped(method, store.name, name, shared, shared_timers))


def _wrapped(
    fn: Callable[..., Awaitable[Any]],
    backend: str,
    operation: str,
    watchers: list[Watcher],
    timers: list[Timer] | None = None,
) -> Callable[..., Awaitable[Any]]:
    # Entered and left by hand rather than with an ExitStack of guarding generators: this runs around
    # every store call of every request, and that machinery cost more than the watchers themselves.
    timers = [] if timers is None else timers
    ends: list[Ended] = []  # each timer's receiver for this operation, asked for on the first call

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if len(ends) != len(timers):
            _resolve(ends, timers, backend, operation)
        entered = _enter(watchers, backend, operation) if watchers else _NONE
        started = time.monotonic()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _ended(ends, exc, time.monotonic() - started)
            if entered:
                _leave(entered, exc)
            raise
        _ended(ends, None, time.monotonic() - started)
        if entered:
            _leave(entered, None)
        return result

    return call


_NONE: list[AbstractContextManager[Any]] = []


def _resolve(ends: list[Ended], timers: list[Timer], backend: str, operation: str) -> None:
    """The receivers of timers added since the last call; one that fails to answer gets none."""
    for timer in timers[len(ends) :]:
        try:
            ends.append(timer(backend, operation))
        except Exception:
            log.exception("backend call timer failed")
            ends.append(_ignore)


def _ignore(exc: BaseException | None, seconds: float) -> None:
    """The receiver of a timer that failed to give one."""


def _ended(ends: list[Ended], exc: BaseException | None, seconds: float) -> None:
    """Each timer's receiver told the outcome; one that raises is logged and changes nothing."""
    for end in ends:
        try:
            end(exc, seconds)
        except Exception:
            log.exception("backend call timer failed")


def _enter(watchers: list[Watcher], backend: str, operation: str) -> list[AbstractContextManager[Any]]:
    """Each watcher's context entered; one that fails to build or enter is left out of this call."""
    entered = []
    for watcher in watchers:
        try:
            manager = watcher(backend, operation)
            manager.__enter__()
        except Exception:
            continue
        entered.append(manager)
    return entered


def _leave(entered: list[AbstractContextManager[Any]], exc: BaseException | None) -> None:
    """Leave in reverse order; a watcher failing on exit is logged, and never changes the call's outcome
    (nor can one swallow the call's exception: what ``__exit__`` returns is ignored)."""
    for manager in reversed(entered):
        try:
            if exc is None:
                manager.__exit__(None, None, None)
            else:
                manager.__exit__(type(exc), exc, exc.__traceback__)
        except Exception:
            log.exception("backend call watcher failed")
