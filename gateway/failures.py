"""A failure told in one short line, for people: check-config's report, the readiness log, the status page.

SDK errors arrive wrapped several times (urllib3's ``MaxRetryError`` around a ``NewConnectionError``
around ``ConnectionRefusedError``, as the s3 backend's detail), and their text runs to hundreds of
characters that repeat the endpoint the operator already knows. What matters is the innermost cause: the
operating system's words (``Connection refused``, ``Name or service not known``) or a timeout.
"""

from __future__ import annotations

import re

from backends import errors as be

#: Characters of a reason; anything longer is cut with an ellipsis.
MAX_REASON = 120
#: The operating system's own words inside an SDK's message: ``[Errno 111] Connection refused``.
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"'()\]\[]+)")
_TIMEOUT = re.compile(r"timed? ?out", re.IGNORECASE)


def _innermost_os_error(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    found: OSError | None = None
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OSError) and node.strerror:
            found = node
        node = node.__cause__ or node.__context__
    return found


def short_reason(exc: BaseException, limit: int = MAX_REASON) -> str:
    """``exc`` as one line of at most ``limit`` characters: its kind, then the most telling cause."""
    kind = type(exc).__name__
    text = (exc.detail or "") if isinstance(exc, be.BackendError) else str(exc)
    os_error = _innermost_os_error(exc)
    match = _ERRNO.search(text)
    if os_error is not None:
        cause = str(os_error.strerror)
    elif match:
        cause = match.group(1).strip()
    elif _TIMEOUT.search(text) or isinstance(exc, TimeoutError):
        cause = "timed out"
    else:
        cause = " ".join(text.split())  # one line
    line = f"{kind}: {cause}" if cause else kind
    return line if len(line) <= limit else line[: limit - 1] + "…"
