"""The request observer: a pure ASGI middleware that counts, times and logs each request.

It sits inside the OpenTelemetry ASGI middleware, so the request's span is current
while it measures: the duration's exemplar and the access-log line carry the trace id
of that span. `path` is the route template (matched here, before the router runs, so
the in-progress gauge has it too); every unmatched path shares one value, so a scan of
random URLs adds one series, not thousands.
"""

import time
from collections.abc import Sequence

import structlog
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_erase.platform.observability.metrics import (
    EXCEPTIONS,
    IN_PROGRESS,
    REQUEST_DURATION,
    REQUESTS,
    trace_exemplar,
)

UNMATCHED = "<unmatched>"
access_log = structlog.get_logger("pix_erase.access")


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route that answers this request (a wrong method still counts)."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", UNMATCHED))
        if match is Match.PARTIAL and partial is None:
            partial = str(getattr(route, "path", UNMATCHED))
    return partial or UNMATCHED


class RequestObserver:
    def __init__(self, app: ASGIApp, app_name: str, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.app_name = app_name
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = route_template(self.routes, scope)
        status = 500
        in_progress = IN_PROGRESS.labels(self.app_name, method, path)
        in_progress.inc()
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        exception: BaseException | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            exception = exc
            raise
        finally:
            elapsed = time.perf_counter() - start
            in_progress.dec()
            REQUESTS.labels(self.app_name, method, path, str(status)).inc()
            REQUEST_DURATION.labels(self.app_name, method, path).observe(
                elapsed, exemplar=trace_exemplar()
            )
            if exception is not None:
                EXCEPTIONS.labels(self.app_name, method, path, type(exception).__name__).inc()
            self._log(scope, method, status, elapsed)

    def _log(self, scope: Scope, method: str, status: int, elapsed: float) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        url = scope.get("path", "") + (f"?{query}" if query else "")
        client = scope.get("client")
        access_log.info(
            "request",
            http_method=method,
            url=url,
            status_code=status,
            client_addr=f"{client[0]}:{client[1]}" if client else None,
            duration_ms=round(elapsed * 1000, 2),
        )
