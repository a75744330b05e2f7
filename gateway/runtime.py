"""Which event loop and HTTP parser the server runs on: uvloop and httptools, checked and reported.

The gateway's throughput assumes both (uvloop's loop and httptools' C parser cost a fraction of asyncio's
and h11's per request); ``s3bridge serve`` asks uvicorn for uvloop by name rather than "auto", so a
missing uvloop is said at start-up instead of silently costing a third of the request rate.
"""

from __future__ import annotations

import asyncio
import importlib.util


def loop_setting() -> str:
    """uvicorn's ``loop=`` value: uvloop when installed (a dependency), else asyncio's own."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def describe() -> str:
    """``event loop uvloop.Loop, HTTP parser httptools 0.6.4`` for the running worker's log."""
    loop = type(asyncio.get_running_loop())
    try:
        import httptools

        parser = f"httptools {httptools.__version__}"
    except ImportError:  # the S3 protocol subclasses uvicorn's httptools one: it cannot run without
        parser = "none (httptools missing)"
    return f"event loop {loop.__module__}.{loop.__qualname__}, HTTP parser {parser}"


def warnings() -> list[str]:
    """What falls short of the expected runtime, for a warning at start-up."""
    found = []
    if loop_setting() != "uvloop":
        found.append("uvloop is not installed: running on asyncio's event loop, far slower per request")
    return found
