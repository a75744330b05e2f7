"""Watching every call the gateway makes to a store: how long it took, how it ended, under which span.

The stores at the bottom of the backend tree (fs, s3, oss, obs: the nodes that hold no other backend) get
each coroutine method of the contract they implement wrapped on the instance (the contract's defaults
are no store call of their own: a refusal, or a call derived from watched ones, as the light listing), so the tree keeps its shape, the
composites above call the wrapped methods without knowing, and a method added to the contract later is
watched without a change here. Watchers (metrics' latency histogram, the status page's window,
OpenTelemetry's child spans) are context managers entered around each call; a watcher must not fail a
call, so one that raises on entry or exit is logged and dropped from that call.

A streaming answer (``get_object``) is timed to the moment the store answered, not to the last byte: that
is the store's latency; the transfer is the request's.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

from backends.base import Backend
from gateway.metrics import walk

log = logging.getLogger("s3bridge")

#: A watcher: called with (backend name, operation), returns the context manager around the call.
Watcher = Callable[[str, str], AbstractContextManager[Any]]
#: Methods that are no store call: the lifecycle.
_NOT_CALLS = frozenset({"start", "close"})
_MARK = "_s3bridge_watched"


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


def watch(root: Backend, watchers: list[Watcher]) -> None:
    """Wrap the calls of every store under ``root`` once; ``watchers`` may be added to later."""
    for store in leaves(root):
        existing: list[Watcher] | None = getattr(store, _MARK, None)
        if existing is not None:
            existing.extend(w for w in watchers if w not in existing)
            continue
        shared = list(watchers)
        setattr(store, _MARK, shared)
        for name in contract_methods():
            if getattr(type(store), name) is getattr(Backend, name):
                continue  # the contract's default: a refusal, or derived from calls watched themselves
            setattr(store, name, _wrapped(getattr(store, name), store.name, name, shared))


def _wrapped(
    fn: Callable[..., Awaitable[Any]], backend: str, operation: str, watchers: list[Watcher]
) -> Callable[..., Awaitable[Any]]:
    # Entered and left by hand rather than with an ExitStack of guarding generators: this runs around
    # every store call of every request, and that machinery cost more than the watchers themselves.
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        entered = _enter(watchers, backend, operation)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _leave(entered, exc)
            raise
        _leave(entered, None)
        return result

    return call


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
