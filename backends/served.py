"""Which configured backend served the current request, for the ``x-s3bridge-backend`` header.

Composites set it as they pick a member (the router its routed backend, fallback and mirror the member
that answered); the front end reads it after the operation returned. A ContextVar, because one gateway
process serves many requests at once and each request runs in its own task and context.
"""

from __future__ import annotations

from contextvars import ContextVar

served_by: ContextVar[str | None] = ContextVar("s3bridge_served_by", default=None)


def mark(name: str) -> None:
    """Record ``name`` as the backend that served the request running in this context."""
    served_by.set(name)
