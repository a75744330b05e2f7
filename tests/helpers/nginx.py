"""nginx (Debian's package) as a round-robin load balancer in front of gateway replicas, on loopback.

Each request's upstream is logged (``$upstream_addr``) so a test can say which replica served what. The
proxy streams both ways (no request or response buffering) and passes the client's Host on, which the
client's SigV4 signature covers."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from tests.helpers.procs import ServerProcess, free_port

CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$request_method $request_uri $status $upstream_addr';
    access_log {prefix}/access.log upstream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream gateways {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_http_version 1.1;
        location / {{
            proxy_pass http://gateways;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }}
    }}
}}
"""


def available() -> bool:
    return shutil.which("nginx") is not None


def balancer(prefix: Path, upstreams: Sequence[ServerProcess]) -> ServerProcess:
    """nginx round-robin over ``upstreams`` (not started); its log is ``prefix/access.log``."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{u.port};" for u in upstreams)
    conf = prefix / "nginx.conf"
    conf.write_text(CONF.format(prefix=prefix, servers=servers, port=port))
    argv = [shutil.which("nginx") or "nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    return ServerProcess(argv, port, log_path=prefix / "nginx.out")


def upstreams_of(prefix: Path, method: str, uri_part: str) -> list[str]:
    """The replica (host:port) that served each logged ``method`` request whose URI holds ``uri_part``."""
    found = []
    for line in (prefix / "access.log").read_text().splitlines():
        got_method, uri, _status, upstream = line.split(" ", 3)
        if got_method == method and uri_part in uri:
            found.append(upstream)
    return found
