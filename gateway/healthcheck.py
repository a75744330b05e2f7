"""``python -m gateway.healthcheck [--config FILE]``: a container's HEALTHCHECK (and any supervisor's
probe) asks the running gateway's liveness path, on the address and port its configuration gives.

Why not a fixed ``curl http://127.0.0.1:8080/...``: an operator who sets ``server.port`` (or TLS) in the
mounted configuration would get an image reported unhealthy, and restarted, forever. This reads the same
file ``serve`` reads, with the same ``${ENV}`` references, and needs nothing but the Python already in the
image. Exit status 0 when the gateway answers 200, 1 otherwise (one line on stderr saying why)."""

from __future__ import annotations

import argparse
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from gateway.config import Config, ConfigError, load
from gateway.observability import LIVE_PATH

#: Addresses that mean "every interface": the probe then asks over loopback.
_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def live_url(config: Config) -> str:
    """The liveness URL of the gateway ``config`` describes, as seen from the same machine."""
    srv = config.server
    host = _ANY.get(srv.host, srv.host)
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if srv.certfile else "http"
    return f"{scheme}://{host}:{srv.port}{LIVE_PATH}"


def probe(url: str, timeout: float) -> str | None:
    """None when ``url`` answers 200, else why not. The gateway's own certificate is not checked: the
    probe runs beside the process it asks, and the certificate may name only the public host."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:  # noqa: S310
            return None if answer.status == 200 else f"{url} answered {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.healthcheck", description=__doc__)
    parser.add_argument("--config", type=Path, help="the configuration serve runs with")
    parser.add_argument("--port", type=int, help="the port serve was given on its command line, if any")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    try:
        config = load(args.config, overrides={"port": args.port} if args.port else None)
    except ConfigError as exc:
        print(f"s3bridge healthcheck: configuration error: {exc.problems[0]}", file=sys.stderr)
        return 1
    failure = probe(live_url(config), args.timeout)
    if failure is not None:
        print(f"s3bridge healthcheck: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
