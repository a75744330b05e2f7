"""The event loop and HTTP parser the server asks for and reports."""

from __future__ import annotations

import asyncio

import uvloop

from gateway import runtime


def test_uvloop_is_asked_for_and_reported() -> None:
    assert runtime.loop_setting() == "uvloop"
    assert runtime.warnings() == []

    async def describe() -> str:
        return runtime.describe()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        text = runner.run(describe())
    assert text.startswith("event loop uvloop.Loop, HTTP parser httptools ")
    assert asyncio.run(describe()).startswith("event loop asyncio.")
