"""CoalescingTransport: small writes of one loop turn leave as one write, in order, and nothing is lost
or held past the turn, a large write, ``close`` or ``write_eof``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gateway.coalesce import HOLD_MAX, CoalescingTransport


class Recorder(asyncio.Transport):
    """A transport that records each call that would reach the socket (one entry per syscall)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[bytes]]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", [bytes(data)]))

    def writelines(self, lines: Any) -> None:
        self.calls.append(("writelines", [bytes(x) for x in lines]))

    def write_eof(self) -> None:
        self.calls.append(("eof", []))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", []))

    def abort(self) -> None:
        self.closing = True
        self.calls.append(("abort", []))

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else default


def on_a_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (the suite's tests are plain functions)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


async def _turn() -> None:
    """Let the loop run the callbacks scheduled so far."""
    await asyncio.sleep(0)


@on_a_loop
async def test_head_and_body_of_one_turn_leave_in_one_call() -> None:
    raw = Recorder()
    t = CoalescingTransport(raw, asyncio.get_running_loop())
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(b"body")
    assert raw.calls == []
    assert t.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody") + 7
    await _turn()
    assert raw.calls == [("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"body"])]
    t.write(b"next")
    await _turn()
    assert raw.calls[1:] == [("write", [b"next"])]


@on_a_loop
async def test_a_large_write_goes_at_once_after_what_was_held() -> None:
    raw = Recorder()
    t = CoalescingTransport(raw, asyncio.get_running_loop())
    big = b"x" * HOLD_MAX
    t.write(b"head")
    t.write(big)
    assert raw.calls == [("writelines", [b"head", big])]
    t.write(big)  # nothing held: straight through
    assert raw.calls[1:] == [("write", [big])]
    await _turn()  # the flush scheduled for "head" finds nothing left to send
    assert len(raw.calls) == 2


@pytest.mark.parametrize("ending", ["close", "write_eof"])
@on_a_loop
async def test_held_bytes_go_before_the_connection_ends(ending: str) -> None:
    raw = Recorder()
    t = CoalescingTransport(raw, asyncio.get_running_loop())
    t.write(b"last answer")
    getattr(t, ending)()
    assert raw.calls == [("write", [b"last answer"]), ("close" if ending == "close" else "eof", [])]
    await _turn()
    assert len(raw.calls) == 2


@on_a_loop
async def test_abort_drops_what_is_held_and_a_closed_transport_gets_nothing() -> None:
    raw = Recorder()
    t = CoalescingTransport(raw, asyncio.get_running_loop())
    t.write(b"never sent")
    t.abort()
    await _turn()
    assert raw.calls == [("abort", [])]
    t.write(b"after the end")
    await _turn()
    assert raw.calls == [("abort", [])]


@on_a_loop
async def test_empty_writes_are_no_calls_and_the_rest_is_the_transport_s() -> None:
    raw = Recorder()
    t = CoalescingTransport(raw, asyncio.get_running_loop())
    t.write(b"")
    t.writelines([b"a", b"", b"b"])
    await _turn()
    assert raw.calls == [("writelines", [b"a", b"b"])]
    assert t.get_extra_info("peername") == ("127.0.0.1", 1234)
    assert t.is_closing() is False
