"""A body already read whole: what a backend returns for a small object it read in the same call that
opened it, so the gateway can answer with one plain response instead of a stream.

It is still a ``ByteStream`` (one chunk, then the end), so every caller that streams keeps working and a
composite that wraps bodies simply loses the shortcut; the gateway checks ``isinstance(body, WholeBody)``.
"""

from __future__ import annotations

#: Objects (or ranges) up to this size are read whole where the backend can do so cheaply.
SMALL_BODY = 64 * 1024


class WholeBody:
    """``data`` as a one-chunk async byte stream."""

    def __init__(self, data: bytes):
        self.data = data
        self._sent = False

    def __aiter__(self) -> WholeBody:
        return self

    async def __anext__(self) -> bytes:
        if self._sent or not self.data:
            raise StopAsyncIteration
        self._sent = True
        return self.data

    async def aclose(self) -> None:
        self._sent = True
