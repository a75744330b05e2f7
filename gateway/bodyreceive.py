"""uvicorn's ``receive`` for one request, handing the app the body pieces the parser made, uncopied.

uvicorn appends each piece of body the HTTP parser hands it to a ``bytearray`` and gives the app
``bytes(that)``: two copies of every body byte, on top of the socket read and the parser's own. For a
large upload they are a fifth of the bytes moved in the process, and the parser's pieces are already
whole ``bytes`` of up to a socket read (256 KiB) each. ``PieceReceive`` keeps the pieces in a list and
answers with the piece itself when one is waiting (the usual case while the app keeps up), a join of
them otherwise. Everything else is uvicorn's ``receive`` as it is: ``100 Continue`` on the first read,
back-pressure (reading resumes when the app asks, pauses past uvicorn's 64 KiB unread), disconnects.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT


class PieceReceive:
    """The ``receive`` of one uvicorn ``RequestResponseCycle`` (installed by ``gateway.connection``)."""

    def __init__(self, cycle: Any):
        self._cycle = cycle
        self._pieces: list[bytes] = []
        self._size = 0

    def add(self, piece: bytes) -> bool:
        """A piece of body from the parser; True when so much waits unread that reading should pause."""
        self._pieces.append(piece)
        self._size += len(piece)
        return self._size > HIGH_WATER_LIMIT

    async def __call__(self) -> dict[str, Any]:
        cycle = self._cycle
        if cycle.waiting_for_100_continue and not cycle.transport.is_closing():
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        if not cycle.disconnected and not cycle.response_complete:
            cycle.flow.resume_reading()
            await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.disconnected or cycle.response_complete:
            return {"type": "http.disconnect"}
        pieces, self._pieces, self._size = self._pieces, [], 0
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return {"type": "http.request", "body": body, "more_body": cycle.more_body}


def install(cycle: Any) -> None:
    """Give ``cycle`` (a new uvicorn ``RequestResponseCycle``) this receive; ``on_body`` feeds it."""
    cycle.receive = PieceReceive(cycle)
