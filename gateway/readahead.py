"""Reading a large upload's body one step ahead of the store writing it.

Without it, one upload is a relay: receive and verify a piece (SHA-256, MD5, checksums on the event
loop), then wait while a worker thread writes it (and hashes it for the ETag), then receive the next.
With it, a task receives and verifies the next pieces while the thread writes the current one; both
sides hash with the GIL released, so one stream uses two cores. At most ``depth`` pieces wait in between
(the body's own pieces, ``gateway.body.COALESCE`` each), so memory stays bounded per upload.

Errors travel with the pieces, in order: a verification failure or a client gone away reaches the
backend where the next piece would have, before anything is committed. ``aclose`` stops the reader
(the app calls it after every handler), so a backend that gave up mid-body leaves no task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

#: Pieces read ahead of the writer.
DEPTH = 2
_END = object()


class ReadAhead:
    """``source`` iterated by its own task, up to ``depth`` pieces ahead of the consumer."""

    def __init__(self, source: AsyncIterator[bytes], depth: int = DEPTH):
        self._source = source
        self._queue: asyncio.Queue[object] = asyncio.Queue(depth)
        self._task: asyncio.Task[None] | None = None
        self._done = False

    def __aiter__(self) -> ReadAhead:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._produce())
        item = await self._queue.get()
        if item is _END:
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        return item  # type: ignore[return-value]  # only pieces, errors and _END are queued

    async def _produce(self) -> None:
        try:
            async for piece in self._source:
                await self._queue.put(piece)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # S3Error, a disconnect: the consumer raises it in order
            await self._queue.put(exc)
            return
        await self._queue.put(_END)

    async def aclose(self) -> None:
        """Stop reading ahead (the body is abandoned or done)."""
        self._done = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
