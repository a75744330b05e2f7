"""The blocking half of the S3 backend's GetObject: the store's answer, its body whole or as a stream.

A small body (``SMALL_BODY``, by the answer's Content-Length) is read in the same pool call that sent
the request, and handed up as a ``WholeBody``: one thread hop instead of four (request, first chunk,
end of stream, release), and the gateway answers it with a plain response, no stream and no disconnect
watcher. In the profile of a 4 KiB GET through this backend the hops and the stream were most of the
gateway's own work. A larger body streams a chunk per hop (``stream``), as before.

The read is the whole Content-Length or an error (urllib3 checks the length): a short body is never
handed up as if whole. Stored Content-Encoding passes through raw (``decode_content=False``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backends.bridge import DEFAULT_CHUNK, BlockingPool, iterate_blocking
from backends.wholebody import SMALL_BODY, WholeBody


def small_length(headers: Any) -> bool:
    """True when the answer declares a body of at most SMALL_BODY bytes."""
    length = headers.get("content-length")
    return length is not None and length.isdigit() and int(length) <= SMALL_BODY


def read_whole(resp: Any) -> bytes:
    """The whole (small) body of ``resp``; its connection goes back to the pool only once read to the
    end, and is dropped if the read failed."""
    try:
        data: bytes = resp.read(decode_content=False)
    except BaseException:
        resp.close()
        raise
    finally:
        resp.release_conn()
    return data


def open_get(execute: Callable[..., Any], bucket: str, key: str, **kw: Any) -> tuple[Any, WholeBody | None]:
    """The store's answer to a GET (``execute``: minio's request layer), with its body read whole when
    small (then the connection is already released), else None: the caller streams it."""
    resp = execute("GET", bucket, key, preload_content=False, **kw)
    if small_length(resp.headers):
        return resp, WholeBody(read_whole(resp))
    return resp, None


def stream(resp: Any, pool: BlockingPool, translate: Callable[[BaseException], BaseException]) -> Any:
    """``resp``'s body a chunk per pool call; a half-read connection is dropped, not reused."""
    state = {"done": False}

    def read(n: int) -> bytes:
        chunk: bytes = resp.read(n, decode_content=False)
        if not chunk:
            state["done"] = True
        return chunk

    def close() -> None:
        if not state["done"]:
            resp.close()  # drop a half-read connection instead of returning it to the pool
        resp.release_conn()

    return iterate_blocking(read, pool, chunk_size=DEFAULT_CHUNK, close=close, translate=translate)
