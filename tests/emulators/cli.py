"""The command line every emulator shares: options, serving until SIGTERM, cleanup."""

from __future__ import annotations

import argparse
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.emulators.core import App, serve
from tests.emulators.store import Store


def run_cli(
    prog: str,
    description: str,
    default_domain: str,
    make_app: Callable[[argparse.Namespace, Store], App],
    argv: list[str] | None = None,
    *,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """The command line every emulator shares: parse the options, serve until SIGTERM, clean up."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--domain", default=default_domain, help="virtual-host suffix: <bucket>.<domain>")
    parser.add_argument("--security-token", default=None)
    parser.add_argument("--data-dir", default=None)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    tmp = (
        None if args.data_dir else tempfile.TemporaryDirectory(prefix=f"{prog.rsplit('.', 1)[-1]}-emulator-")
    )
    root = Path(args.data_dir) if args.data_dir else Path(tmp.name)  # type: ignore[union-attr]
    server = serve(make_app(args, Store(root)), args.host, args.port)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if tmp is not None:
            tmp.cleanup()
    return 0


def _terminate(*_: object) -> None:
    raise KeyboardInterrupt
