"""The ``s3bridge`` command: ``serve`` runs the gateway, ``check-config`` validates a configuration,
``reconcile`` replays the fallback journals to their primaries.

Configuration problems are printed as one clear line naming the setting, with exit status 2; never a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import logging.config
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from gateway import logformat, runtime
from gateway.config import Config, ConfigError, load
from gateway.version import version

ENV_SERVE_ARGS = "S3BRIDGE_SERVE_ARGS"


#: How ``serve`` combines its three sources of settings; ``serve --help`` and the README say it.
PRECEDENCE = """\
where settings come from, strongest first:
  1. command-line flags (--host, --port, --workers, --certfile, --keyfile, --log-level) replace the
     file's server/logging settings; --data-dir replaces the root of every fs backend;
  2. the environment: ${NAME} and ${NAME:-default} in the file's strings are replaced by variables;
     S3BRIDGE_ACCESS_KEY/S3BRIDGE_SECRET_KEY give the key pair only when the file has no credentials;
  3. the configuration file (--config); without one, an embedded fs backend under --data-dir.
SIGHUP re-reads the file and reloads credentials, public buckets and TLS certificates."""


#: Read only with the otel extra installed (the image does not document them: see the README).
TRACING_ENVIRONMENT = [
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "Turns tracing on (with s3bridge[otel] installed) when telemetry.otlp_endpoint is not set; the "
        "exporter reads the other standard OTEL_* variables itself.",
    )
]


def _environment_help() -> str:
    from gateway.configdoc import ENVIRONMENT

    lines = ["environment variables:"]
    for name, words in [*ENVIRONMENT, *TRACING_ENVIRONMENT]:
        lines.append(f"  {name}")
        lines += textwrap.wrap(
            words.replace("`", ""), 96, initial_indent="      ", subsequent_indent="      "
        )
    return "\n".join(lines) + "\n\n" + PRECEDENCE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3bridge", description="S3-compatible gateway to many stores.")
    parser.add_argument("--version", action="version", version=f"s3bridge {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the gateway",
        description="Run the S3 gateway.",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--config", type=Path, help="configuration file (default: embedded filesystem backend)"
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", type=Path, help="filesystem backend root (default ./data)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--certfile", type=Path, help="TLS certificate (PEM)")
    serve.add_argument("--keyfile", type=Path, help="TLS private key (PEM)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    check = sub.add_parser("check-config", help="validate a configuration and try every backend")
    check.add_argument("--config", type=Path)
    check.add_argument("--data-dir", type=Path)
    check.add_argument("--no-connect", action="store_true", help="validate only; do not contact backends")
    reconcile = sub.add_parser("reconcile", help="replay fallback journals to their primaries now")
    reconcile.add_argument("--config", type=Path)
    reconcile.add_argument("--data-dir", type=Path)
    rotate = sub.add_parser("rotate-key", help="rewrap every SSE-S3 data key under the current master key")
    rotate.add_argument("--config", type=Path)
    rotate.add_argument("--data-dir", type=Path)
    rotate.add_argument("--backend", help="only this encrypt backend (default: every one)")
    rotate.add_argument("--bucket", action="append", help="only this bucket of the store (repeatable)")
    return parser


def serve_args(args: argparse.Namespace) -> dict[str, object]:
    overrides = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "certfile": str(args.certfile) if args.certfile else None,
        "keyfile": str(args.keyfile) if args.keyfile else None,
    }
    return {
        "config": str(args.config) if args.config else None,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "overrides": overrides,
        "log_level": args.log_level,
    }


def load_from(spec: dict[str, object]) -> Config:
    config_path = spec.get("config")
    data_dir = spec.get("data_dir")
    return load(
        Path(str(config_path)) if config_path else None,
        data_dir=Path(str(data_dir)) if data_dir else None,
        overrides=spec.get("overrides"),  # type: ignore[arg-type]
    )


def create_app() -> ASGIApp:
    """uvicorn's app factory: each worker process builds its own app from the same settings."""
    from gateway import connection
    from gateway.app import S3App
    from gateway.assemble import build_root
    from gateway.observability import Observability

    spec = json.loads(os.environ.get(ENV_SERVE_ARGS, "{}"))
    config = load_from(spec)
    srv = config.server
    connection.configure(
        connection.Limits(
            srv.header_timeout,
            srv.body_idle_timeout,
            srv.body_min_rate,
            srv.max_connections,
            srv.max_in_flight,
        )
    )
    backend = build_root(config)
    observability = Observability(config, backend)
    app = S3App(config, backend, extra=observability.handle)
    observability.status.secret_for = lambda key: app.policy.secret_for(key)  # reloaded with the app's
    _reload_on_hup(app, spec, lambda applied: setattr(observability.status, "config", applied))
    return observability.wrap(app)


def _reload_on_hup(app: object, spec: dict[str, object], listener: Callable[[Config], None]) -> None:
    """SIGHUP reloads this worker's credentials, public buckets and TLS certificate
    (``gateway.reload``), when ``s3bridge serve`` runs it: uvicorn calls the factory from its loop."""
    import asyncio
    import signal

    from gateway.reload import TLS, Reloader

    if TLS.serving:
        reloader = Reloader(app, lambda: load_from(spec), [listener])
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloader.reload)


def _serve(args: argparse.Namespace) -> int:
    spec = serve_args(args)
    config = load_from(spec)
    from gateway.assemble import build_root

    build_root(config)  # fail here, in the parent, on anything a worker would fail on
    from gateway.tracing import check_available

    check_available(config)
    srv = config.server
    level = str(spec["log_level"] or config.logging.level)
    log_config = logformat.log_config(config.logging.format, level)
    logging.config.dictConfig(log_config)
    os.environ[ENV_SERVE_ARGS] = json.dumps(spec)
    scheme = "https" if srv.certfile else "http"
    logging.getLogger("s3bridge").info(
        "s3bridge %s serving %s://%s:%s", version(), scheme, srv.host, srv.port
    )
    for problem in runtime.warnings():
        logging.getLogger("s3bridge").warning("%s", problem)
    with _shared_metrics_dir(srv.workers):
        _run(srv, level, log_config)
    return 0


@contextlib.contextmanager
def _shared_metrics_dir(workers: int) -> Iterator[None]:
    """With several workers, a directory they share their metrics through (prometheus-client's
    multiprocess mode), made here and removed on exit, unless the environment names one already."""
    from gateway.metrics import MULTIPROC_ENV

    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="s3bridge-metrics-") as shared:
        os.environ[MULTIPROC_ENV] = shared
        try:
            yield
        finally:
            os.environ.pop(MULTIPROC_ENV, None)


def _run(srv: Any, level: str, log_config: dict[str, Any]) -> None:
    from gateway import serving

    serving.run(
        app="gateway.cli:create_app",
        factory=True,
        host=srv.host,
        port=srv.port,
        workers=srv.workers,
        loop=runtime.loop_setting(),
        ssl_certfile=str(srv.certfile) if srv.certfile else None,
        ssl_keyfile=str(srv.keyfile) if srv.keyfile else None,
        log_level=level,
        log_config=log_config,
        access_log=False,
        timeout_graceful_shutdown=srv.shutdown_timeout,
        server_header=False,
        proxy_headers=False,
        http="gateway.connection:S3Protocol",  # limits, and S3 answers for what the HTTP layer refuses
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "reconcile":
            from gateway.reconcile import run as reconcile

            return reconcile(args.config, args.data_dir)
        if args.command == "rotate-key":
            from gateway.rotatekey import run as rotate_key

            return rotate_key(args.config, args.data_dir, args.backend, args.bucket)
        from gateway.checkconfig import run as check_config

        return check_config(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"s3bridge: configuration error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
