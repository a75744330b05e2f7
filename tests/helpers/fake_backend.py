"""A store whose failures follow a script, for testing the composites (retry, breaker, fallback, mirror).

``ScriptedBackend`` wraps a real store (a temporary fs backend) and answers every operation with that
store's answer, except where the test has scripted a failure: "put_object: raise BackendUnavailable
twice, then succeed", "complete_multipart_upload: do it, then lose the answer", "the store is down from
now on". The failures are the contract's own errors (``backends/errors.py``), exactly what a provider
backend raises once it has translated its store's answer, so a composite sees what it would see in
production, without a network, a proxy process or a second store process.

It is test scaffolding for the composite under test, not a stand-in for it: the composite's own code
runs unchanged, and the clock it takes is the test's (see ``ManualClock``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.lowlevel

from backends import errors as be
from backends.base import Backend

#: Every operation of the contract a composite forwards; the ones that carry an upload body name its index.
OPERATIONS = (
    "check",
    "list_buckets",
    "create_bucket",
    "delete_bucket",
    "head_bucket",
    "put_object",
    "get_object",
    "head_object",
    "delete_object",
    "copy_object",
    "list_objects",
    "create_multipart_upload",
    "upload_part",
    "upload_part_copy",
    "complete_multipart_upload",
    "abort_multipart_upload",
    "list_parts",
    "list_multipart_uploads",
)
_BODY_ARG = {"put_object": 2, "upload_part": 4}
ANY = "*"


class ManualClock:
    """A monotonic clock the test moves by hand, so reset timeouts and deadlines need no sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Fault:
    """One scripted failure: raise ``error``; with ``after``, only once the store has done the work (the
    answer is lost, the effect is not); with ``read_body``, after pulling the upload body off the client
    (a store that failed mid-upload: those bytes cannot be sent again)."""

    error: type[be.BackendError]
    after: bool = False
    read_body: bool = False


class ScriptedBackend(Backend):
    """``store``'s answers, with the failures the test scripts on top.

    ``calls`` records every call that reached this backend as ``(operation, outcome)``, the outcome being
    ``"ok"`` or the name of the error raised, so a test can tell "refused before reaching the store"
    from "failed at the store".
    """

    def __init__(self, store: Backend, *, name: str | None = None) -> None:
        self.store = store
        self.name = name or store.name
        self.capabilities = store.capabilities
        self.calls: list[tuple[str, str]] = []
        self._script: dict[str, deque[Fault]] = {}
        self._down: Fault | None = None

    # -- the script ------------------------------------------------------------------------------------

    def fail(
        self,
        operation: str = ANY,
        error: type[be.BackendError] = be.BackendUnavailable,
        *,
        times: int = 1,
        after: bool = False,
        read_body: bool = False,
    ) -> None:
        """The next ``times`` calls of ``operation`` (of any operation for ``ANY``) fail with ``error``."""
        if operation != ANY and operation not in OPERATIONS:
            raise ValueError(f"not a contract operation: {operation}")
        queue = self._script.setdefault(operation, deque())
        queue.extend(Fault(error, after, read_body) for _ in range(times))

    def clear(self) -> None:
        """Forget every fault not yet used."""
        self._script.clear()

    def kill(self, *, read_body: bool = True) -> None:
        """The store is gone: every call fails with BackendUnavailable until ``revive()``; an upload in
        the making has had its body pulled, as a connection cut mid-body does."""
        self._down = Fault(be.BackendUnavailable, read_body=read_body)

    def revive(self) -> None:
        self._down = None

    def failed(self, operation: str = ANY) -> int:
        """How many calls (of ``operation``) failed here."""
        return sum(1 for op, outcome in self.calls if outcome != "ok" and operation in (ANY, op))

    def served(self, operation: str = ANY) -> int:
        """How many calls (of ``operation``) the store answered successfully."""
        return sum(1 for op, outcome in self.calls if outcome == "ok" and operation in (ANY, op))

    def _next_fault(self, operation: str) -> Fault | None:
        if self._down is not None:
            return self._down
        for key in (operation, ANY):
            queue = self._script.get(key)
            if queue:
                return queue.popleft()
        return None

    # -- the calls -------------------------------------------------------------------------------------

    async def _run(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        await anyio.lowlevel.checkpoint()  # a store call always yields, so concurrent callers interleave
        fault = self._next_fault(operation)
        if fault is not None and not fault.after:
            if fault.read_body and operation in _BODY_ARG:
                body = kwargs["body"] if "body" in kwargs else args[_BODY_ARG[operation]]
                async for _ in body:
                    pass
            self._raise(operation, fault)
        method: Callable[..., Awaitable[Any]] = getattr(self.store, operation)
        try:
            result = await method(*args, **kwargs)
        except be.BackendError as exc:
            self.calls.append((operation, type(exc).__name__))
            raise
        if fault is not None:
            self._raise(operation, fault)
        self.calls.append((operation, "ok"))
        return result

    def _raise(self, operation: str, fault: Fault) -> None:
        self.calls.append((operation, fault.error.__name__))
        raise fault.error(f"scripted {fault.error.__name__} on {operation}", backend=self.name)

    async def start(self) -> None:
        await self.store.start()

    async def close(self) -> None:
        await self.store.close()


def _operation(name: str) -> Callable[..., Awaitable[Any]]:
    async def call(self: ScriptedBackend, *args: Any, **kwargs: Any) -> Any:
        return await self._run(name, args, kwargs)

    call.__name__ = call.__qualname__ = name
    return call


for _name in OPERATIONS:
    setattr(ScriptedBackend, _name, _operation(_name))
