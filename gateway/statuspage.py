"""The status page as HTML, rendered on the server from ``StatusBoard.snapshot()``: readable with
JavaScript off; with it, the page fetches itself every few seconds and swaps its body in place (no
framework, no external resource, so it works air-gapped). Every value is escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

#: Seconds between two refreshes in the browser.
REFRESH_SECONDS = 5

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left}
th{background:#f0f0f0}.ok{color:#176f2c;font-weight:600}.bad{color:#b00020;font-weight:600}
.warn{color:#a15c00;font-weight:600}.muted{color:#777}code{font-size:.95em}
"""

_SCRIPT = f"""
setInterval(async () => {{
  try {{
    const r = await fetch(location.href, {{cache: "no-store", credentials: "same-origin"}});
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    document.querySelector("main").replaceWith(doc.querySelector("main"));
  }} catch (e) {{}}
}}, {REFRESH_SECONDS * 1000});
"""


def _when(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: Any) -> str:
    return '<td class="muted">-</td>' if value is None or value == "" else f"<td>{escape(str(value))}</td>"


def _health(row: dict[str, Any]) -> str:
    if row["healthy"] is True:
        return '<td class="ok">healthy</td>'
    if row["healthy"] is False:
        return f'<td class="bad">down: {escape(row["detail"])}</td>'
    return '<td class="muted">unknown</td>'


def _breaker(state: str | None) -> str:
    if state is None:
        return _cell(None)
    css = {"closed": "ok", "half-open": "warn", "open": "bad"}.get(state, "")
    return f'<td class="{css}">{escape(state)}</td>'


def _mirror(writes: int | None) -> str:
    if writes is None:
        return _cell(None)
    if writes == 0:
        return '<td class="ok">in sync</td>'
    return f'<td class="warn">degraded: {writes} write(s) short of a member</td>'


def _table(head: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def render(snap: dict[str, Any]) -> str:
    backends = [
        f'<tr data-backend="{escape(b["name"])}"><td><code>{escape(b["name"])}</code></td>{_cell(b["kind"])}'
        f"{_health(b)}{_cell(b['check_ms'])}{_cell(b['calls_5m'])}{_cell(b['mean_ms'])}{_cell(b['max_ms'])}"
        f"{_breaker(b['breaker'])}{_mirror(b['mirror_degraded_writes'])}</tr>"
        for b in snap["backends"]
    ]
    operations = [
        f"<tr><td>{escape(o['operation'])}</td>{_cell(o['requests'])}"
        f'<td class="{"bad" if o["errors"] else ""}">{o["errors"]}</td></tr>'
        for o in snap["operations"]
    ]
    errors = [
        f"<tr>{_cell(_when(e['time']))}{_cell(e['operation'])}{_cell(e['bucket'])}{_cell(e['status'])}"
        f"{_cell(e['error'])}{_cell(e['backend'])}<td><code>{escape(str(e['request_id']))}</code></td></tr>"
        for e in snap["recent_errors"]
    ]
    conf = snap["configuration"]
    routes = [
        f"<tr><td><code>{escape(r['bucket'])}</code></td>{_cell(r['backend'])}{_cell(r['remote_bucket'])}"
        f"{_cell(r['prefix'])}</tr>"
        for r in conf["routes"]
    ]
    window = snap["window_minutes"]
    main = f"""<main>
<h1>s3bridge {escape(snap["version"])}</h1>
<p class="muted">at {_when(snap["generated"])}, up {snap["uptime_seconds"]:.0f} s; this worker's view
(refreshes every {REFRESH_SECONDS} s)</p>
<h2>Backends</h2>
{_table(["backend", "type and location", "health", "check ms", "calls (5 min)", "mean ms", "max ms", "breaker", "mirror"], backends, "no backend")}
<h2>Requests, last {window} minute(s)</h2>
{_table(["operation", "requests", "errors"], operations, "no request yet")}
<h2>Recent errors</h2>
{_table(["time", "operation", "bucket", "status", "error", "backend", "request id"], errors, "none")}
<h2>Configuration</h2>
<p>listen <code>{escape(conf["listen"])}</code>, {conf["workers"]} worker(s), log format {escape(conf["log_format"])},
at most {conf["limits"]["max_connections"]} connections and {conf["limits"]["max_in_flight"]} requests in flight per worker</p>
<p>key pairs: {escape(", ".join(conf["key_pairs"]) or "none")}; public buckets: {escape(", ".join(conf["public_buckets"]) or "none")}</p>
{_table(["bucket", "backend", "remote bucket", "prefix"], routes, "no route")}
</main>"""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>s3bridge status</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body>{main}<script>{_SCRIPT}</script></body></html>
"""
