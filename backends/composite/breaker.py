"""A per-backend circuit breaker: stop calling a store that keeps failing, probe it again later.

After ``failure_threshold`` consecutive errors saying the store cannot serve us (BackendUnavailable,
InternalBackendError, and AccessDenied: revoked credentials or a read-only disk) the circuit opens:
every call fails at once with BackendUnavailable, without touching the store, for ``reset_timeout``
seconds. Then it is half-open: one call goes through as a probe while the others keep
failing fast; the probe's success closes the circuit, its failure opens it again for another period.

What counts: only those. Any other answer, even an error such as NoSuchKey, proves the store is up
and resets the count. SlowDown neither counts nor resets: the store is up but throttling, and
opening the circuit on it would turn back-pressure into an outage. A failing client body is the
client's fault and is ignored.

Placed outside Retry (``Breaker(Retry(store))``) a "failure" is a request that failed after all its
retries, which is what a Fallback above wants to know. Errors raised mid-stream while reading a GET
body are not seen here: they reach the client directly.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal, TypeVar

import pydantic

from backends import errors as be
from backends.base import Backend
from backends.bridge import DEFAULT_THREADS
from backends.composite.forwarding import Forwarding

T = TypeVar("T")

State = Literal["closed", "open", "half-open"]


class Breaker(Forwarding):
    def __init__(
        self,
        inner: Backend,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(inner, name=name)
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout >= 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state: State = "closed"
        self._probing = False
        #: How many calls were refused without reaching the store (for metrics).
        self.rejected = 0

    @property
    def state(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = "half-open"
        return self._state

    def _admit(self) -> bool:
        """True when this call may reach the store; True for the one probe of a half-open circuit."""
        state = self.state
        if state == "closed":
            return False
        if state == "half-open" and not self._probing:
            self._probing = True
            return True
        self.rejected += 1
        raise be.BackendUnavailable(detail="circuit breaker open", backend=self.inner.name)

    def _record(self, failed: bool, probe: bool) -> None:
        if probe:
            self._probing = False
        if failed:
            self._failures += 1
            if probe or self._failures >= self.failure_threshold:
                self._state = "open"
                self._opened_at = self._clock()
        else:
            self._failures = 0
            self._state = "closed"

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        probe = self._admit()
        try:
            result = await fn(*args)
        except (be.BackendUnavailable, be.InternalBackendError, be.AccessDenied):
            self._record(True, probe)
            raise
        except be.SlowDown:
            if probe:
                self._probing = False
            raise
        except be.BackendError:
            self._record(False, probe)
            raise
        except BaseException:
            if probe:
                self._probing = False
            raise
        self._record(False, probe)
        return result


class BreakerOptions(pydantic.BaseModel):
    """A breaker's thresholds, as a breaker backend and a fallback's ``breaker:`` block set them."""

    model_config = pydantic.ConfigDict(extra="forbid")

    failure_threshold: int = pydantic.Field(5, ge=1)
    reset_timeout: float = pydantic.Field(30.0, ge=0)


class Settings(BreakerOptions):
    model_config = pydantic.ConfigDict(extra="forbid", title="breaker backend")
    #: Settings that name other backends.
    references: ClassVar[tuple[str, ...]] = ("backend",)

    type: Literal["breaker"]
    backend: str


def build(
    settings: Settings, *, name: str, lookup: Callable[[str], Backend], io_threads: int = DEFAULT_THREADS
) -> Backend:
    """``io_threads`` is for backends that block; a composite does not."""
    return Breaker(lookup(settings.backend), settings.failure_threshold, settings.reset_timeout, name=name)
