"""SIGHUP: read the configuration file again and apply what can change under live connections.

What reloads: the key pairs (``credentials``), the public buckets, and the TLS certificate and key. The
certificate goes into the same ``ssl.SSLContext`` uvicorn listens with (``load_cert_chain`` on that very
object), so new handshakes present the new certificate while open connections, kept-alive ones
included, carry on. Everything else (listen address, workers, backends, routes, limits) needs a restart:
a change there is logged as not applied, and the rest still reloads.

A new file that does not validate, or a certificate that does not load, is refused as a whole with one
log line, and the previous configuration keeps serving. Every worker process reloads on its own: with
``--workers N`` the supervisor passes SIGHUP on to its workers (``gateway.serving``) instead of
restarting them.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.config import Config, ConfigError
from gateway.failures import short_reason
from gateway.policy import Policy

log = logging.getLogger("s3bridge.reload")

#: Sections and server settings a reload applies; a change anywhere else waits for a restart.
RELOADED = ("credentials", "public_buckets")
RELOADED_SERVER = ("certfile", "keyfile")


@dataclass
class TlsHolder:
    """The SSLContext the server listens with, once uvicorn made it (``None`` without TLS); ``serving``
    once ``s3bridge serve`` runs this process's server (an app built elsewhere installs no handler)."""

    context: ssl.SSLContext | None = None
    serving: bool = False


#: Set in each worker process by ``gateway.serving.GatewayConfig.load``.
TLS = TlsHolder()


def not_applied(old: Config, new: Config) -> list[str]:
    """Settings that differ between ``old`` and ``new`` but need a restart, as dotted names."""
    changed = []
    for section in type(old).model_fields:
        if section in RELOADED:
            continue
        before, after = getattr(old, section), getattr(new, section)
        if section == "server":
            for name in type(before).model_fields:
                if name not in RELOADED_SERVER and getattr(before, name) != getattr(after, name):
                    changed.append(f"server.{name}")
        elif _dump(before) != _dump(after):
            changed.append(section)
    return changed


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _check_tls(config: Config) -> None:
    """Load the new certificate into a scratch context first: a bad one must not touch the live one."""
    srv = config.server
    if srv.certfile is not None and TLS.context is not None:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            str(srv.certfile), str(srv.keyfile)
        )


class Reloader:
    """Applies a new configuration to one app: ``target`` has ``config`` and ``policy`` attributes."""

    def __init__(
        self, target: Any, read: Callable[[], Config], listeners: list[Callable[[Config], None]] | None = None
    ):
        self.target = target
        self.read = read
        #: Told the applied configuration (the status page's summary).
        self.listeners = listeners or []
        self.reloads = 0

    def reload(self) -> bool:
        """Read, check and apply; False (and one log line) when the new configuration is refused."""
        old: Config = self.target.config
        try:
            new = self.read()
            _check_tls(new)
        except ConfigError as exc:
            extra = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            log.error(
                "reload refused, still serving the previous configuration: %s%s", exc.problems[0], extra
            )
            return False
        except (OSError, ssl.SSLError) as exc:
            log.error("reload refused, still serving the previous configuration: TLS: %s", short_reason(exc))
            return False
        server = old.server.model_copy(update={n: getattr(new.server, n) for n in RELOADED_SERVER})
        applied = old.model_copy(update={**{s: getattr(new, s) for s in RELOADED}, "server": server})
        if TLS.context is not None and server.certfile is not None:
            TLS.context.load_cert_chain(str(server.certfile), str(server.keyfile))
        self.target.config = applied
        self.target.policy = Policy(applied)
        for listener in self.listeners:
            listener(applied)
        self.reloads += 1
        skipped = not_applied(old, new)
        note = f"; not applied until a restart: {', '.join(skipped)}" if skipped else ""
        log.info(
            "configuration reloaded: %d key pair(s), %d public bucket(s)%s%s",
            len(applied.credentials),
            len(applied.public_buckets),
            ", TLS certificate" if TLS.context is not None else "",
            note,
        )
        return True
