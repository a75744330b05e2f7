"""The ``s3bridge`` command: ``serve`` runs the gateway, ``check-config`` validates a configuration,
``reconcile`` replays the fallback journals to their primaries.

Configuration problems are printed as one clear line naming the setting, with exit status 2; never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from starlette.types import ASGIApp

from gateway import runtime
from gateway.config import Config, ConfigError, load

ENV_SERVE_ARGS = "S3BRIDGE_SERVE_ARGS"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3bridge", description="S3-compatible gateway to many stores.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
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
    return observability.wrap(app)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    spec = serve_args(args)
    config = load_from(spec)
    from gateway.assemble import build_root

    build_root(config)  # fail here, in the parent, on anything a worker would fail on
    srv = config.server
    level = spec["log_level"] or config.logging.level
    logging.basicConfig(
        level=getattr(logging, str(level).upper()), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    os.environ[ENV_SERVE_ARGS] = json.dumps(spec)
    scheme = "https" if srv.certfile else "http"
    print(f"s3bridge serving {scheme}://{srv.host}:{srv.port}", file=sys.stderr, flush=True)
    for problem in runtime.warnings():
        logging.getLogger("s3bridge").warning("%s", problem)
    uvicorn.run(
        "gateway.cli:create_app",
        factory=True,
        host=srv.host,
        port=srv.port,
        workers=srv.workers,
        loop=runtime.loop_setting(),
        ssl_certfile=str(srv.certfile) if srv.certfile else None,
        ssl_keyfile=str(srv.keyfile) if srv.keyfile else None,
        log_level=str(level),
        access_log=False,
        timeout_graceful_shutdown=srv.shutdown_timeout,
        server_header=False,
        proxy_headers=False,
        http="gateway.connection:S3Protocol",  # limits, and S3 answers for what the HTTP layer refuses
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "reconcile":
            from gateway.reconcile import run as reconcile

            return reconcile(args.config, args.data_dir)
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
