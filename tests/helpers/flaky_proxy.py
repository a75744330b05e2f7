"""A scripted S3-ish HTTP server: answers N requests with an S3 error, then proxies to a real store.

Run as a process (``python -m tests.helpers.flaky_proxy --port P --upstream http://127.0.0.1:M``) in
front of moto's S3 server. ``--fail N --status 503 --code SlowDown`` makes the next N requests (optionally
only those with ``--method``) fail with that S3 error XML before reaching the store; with ``--after``
the request does reach the store first and only its answer is replaced (a response lost on the way
back: the store did it, the client saw an error). Tests re-arm it without a restart:
``POST /__faults__?fail=N&status=503&code=SlowDown&method=PUT&after=1`` and read the counts with
``GET /__faults__``. Bodies stream through in both directions, never held whole.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class Script:
    fail: int = 0
    status: int = 503
    code: str = "SlowDown"
    method: str = ""
    after: bool = False
    failed: int = 0
    proxied: int = 0


def build_app(upstream: str, script: Script) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=60.0)

    async def control(request: Request) -> Response:
        if request.method == "POST":
            q = request.query_params
            script.fail = int(q.get("fail", "0"))
            script.status = int(q.get("status", "503"))
            script.code = q.get("code", "SlowDown")
            script.method = q.get("method", "").upper()
            script.after = q.get("after", "") in ("1", "true")
        return JSONResponse(asdict(script))

    def scripted_error() -> Response:
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{script.code}</Code>'
            f"<Message>scripted failure</Message><RequestId>flaky</RequestId></Error>"
        )
        return Response(xml, status_code=script.status, media_type="application/xml")

    async def proxy(request: Request) -> Response:
        fail = script.fail > 0 and (not script.method or request.method == script.method)
        if fail:
            script.fail -= 1
            script.failed += 1
            if not script.after:
                async for _ in request.stream():  # take the body off the wire as a store would
                    pass
                return scripted_error()
        script.proxied += 1
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_HEADERS]

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                yield chunk

        has_body = request.method in ("PUT", "POST")
        upstream_request = client.build_request(
            request.method,
            request.url.path,
            params=request.url.query.encode(),
            headers=headers,
            content=body() if has_body else None,
        )
        answer = await client.send(upstream_request, stream=True)
        if fail:  # --after: the store did it, the answer is lost
            await answer.aread()
            await answer.aclose()
            return scripted_error()
        out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=out_headers,
            background=BackgroundTask(answer.aclose),
        )

    return Starlette(
        routes=[
            Route("/__faults__", control, methods=["GET", "POST"]),
            Route("/{path:path}", proxy, methods=["GET", "HEAD", "PUT", "POST", "DELETE"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--status", type=int, default=503)
    parser.add_argument("--code", default="SlowDown")
    parser.add_argument("--method", default="")
    parser.add_argument("--after", action="store_true")
    args = parser.parse_args()
    script = Script(
        fail=args.fail, status=args.status, code=args.code, method=args.method.upper(), after=args.after
    )
    uvicorn.run(build_app(args.upstream, script), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
