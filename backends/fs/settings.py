"""Options of a ``type: fs`` backend. Imports nothing of the backend, so a configuration validates alone."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic


class Settings(pydantic.BaseModel):
    """Options of a ``type: fs`` backend."""

    model_config = pydantic.ConfigDict(extra="forbid", title="fs backend")

    type: Literal["fs"]
    #: The directory holding one directory per bucket (created if missing).
    root: Path
    #: Flush data to disk before an upload is acknowledged.
    fsync: bool = True
