"""Running uvicorn the way ``s3bridge serve`` needs: as ``uvicorn.run`` does, with two changes.

- ``GatewayConfig`` remembers the SSLContext uvicorn builds in each worker process, so a SIGHUP reload
  (``gateway.reload``) loads the new certificate into the very context the listening socket uses.
- With ``--workers N`` the supervisor passes SIGHUP on to its workers, each of which reloads in place,
  instead of uvicorn's default of replacing every worker (which would drop their connections).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway import reload


class GatewayConfig(uvicorn.Config):
    def load(self) -> None:
        # A SIGHUP that comes while this worker is still loading must not end it (the default action):
        # ignored until the app installs its reload handler.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        reload.TLS.serving = True
        super().load()
        reload.TLS.context = self.ssl


class ReloadingMultiprocess(Multiprocess):
    def handle_hup(self) -> None:
        for process in self.processes:
            if process.process.pid is not None and process.process.is_alive():
                os.kill(process.process.pid, signal.SIGHUP)


def run(**options: Any) -> None:
    """``uvicorn.run(app, **options)`` for an import-string app factory, with the changes above."""
    config = GatewayConfig(**options)
    server = uvicorn.Server(config=config)
    if config.workers > 1:
        ReloadingMultiprocess(config, sockets=[config.bind_socket()]).run()
        return
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
