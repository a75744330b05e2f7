"""The read-ahead between a large upload's verifying stream and the backend writing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.errors import S3Error
from gateway.readahead import ReadAhead


async def _pieces(
    n: int, fail: BaseException | None = None, log: list[int] | None = None
) -> AsyncIterator[bytes]:
    for i in range(n):
        if log is not None:
            log.append(i)
        yield bytes([i]) * 10
    if fail is not None:
        raise fail


def test_pieces_in_order_and_then_the_end() -> None:
    async def run() -> list[bytes]:
        return [p async for p in ReadAhead(_pieces(50))]

    assert asyncio.run(run()) == [bytes([i]) * 10 for i in range(50)]


def test_an_error_comes_after_the_pieces_before_it() -> None:
    async def run() -> tuple[list[bytes], str]:
        got = []
        with pytest.raises(S3Error) as err:
            async for p in ReadAhead(_pieces(3, S3Error("IncompleteBody"))):
                got.append(p)
        return got, err.value.code

    got, code = asyncio.run(run())
    assert len(got) == 3 and code == "IncompleteBody"


def test_reads_at_most_depth_ahead_and_aclose_stops_the_reader() -> None:
    async def run() -> tuple[int, int, bool]:
        log: list[int] = []
        ahead = ReadAhead(_pieces(100, log=log), depth=2)
        await ahead.__anext__()
        for _ in range(20):
            await asyncio.sleep(0)
        read_while_waiting = len(log)
        task = ahead._task
        await ahead.aclose()
        for _ in range(5):
            await asyncio.sleep(0)
        assert task is not None
        return read_while_waiting, len(log), task.done()

    waiting, after, done = asyncio.run(run())
    assert waiting <= 1 + 2 + 1  # the one taken, the queue's two, one blocked on a full queue
    assert after == waiting and done
