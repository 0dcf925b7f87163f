"""The request observer: a pure ASGI middleware that counts, times and logs each request.

It sits inside the OpenTelemetry ASGI middleware, so the request's span is current
while it measures: the duration's exemplar and the access-log line carry the trace id
of that span. `path` is the route template (matched here, before the router runs, so
the in-progress gauge has it too); every unmatched path shares one value, so a scan of
random URLs adds one series, not thousands.
"""

import re
import time
from collections.abc import Sequence

import structlog
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_erase.platform.observability.metrics import (
    EXCEPTIONS,
    IN_PROGRESS,
    REQUEST_DURATION,
    REQUESTS,
    trace_exemplar,
)

UNMATCHED = "<unmatched>"
# Where an error handler notes the exception that made a request a 5xx (see errors.py).
EXCEPTION_SCOPE_KEY = "pix_erase.exception_type"
access_log = structlog.get_logger("pix_erase.access")


class RouteTable:
    """Every route's full template (router prefixes included) and a regex for it.

    Built on the first request, when all routes are registered. FastAPI includes
    routers lazily, so the app's top-level routes are not the endpoints themselves;
    `iter_route_contexts` gives the effective ones.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = routes
        self._table: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = None

    def _build(self) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
        table = []
        for context in iter_route_contexts(self._routes):
            template = context.path_format
            if template:
                methods = getattr(context.original_route, "methods", None) or ()
                table.append((compile_path(template)[0], template, frozenset(methods)))
        return table

    def template(self, method: str, path: str) -> str:
        """The template that answers (a known path with a wrong method still counts)."""
        if self._table is None:
            self._table = self._build()
        fallback = None
        for regex, template, methods in self._table:
            if regex.match(path):
                if not methods or method in methods:
                    return template
                fallback = fallback or template
        return fallback or UNMATCHED

    def span_details(self, scope: Scope) -> tuple[str, dict[str, str]]:
        """Name server spans by route template, as the metrics label them."""
        method = scope.get("method", "HTTP")
        template = self.template(method, scope.get("path", ""))
        return f"{method} {template}", {"http.route": template}


class RequestObserver:
    def __init__(self, app: ASGIApp, app_name: str, routes: RouteTable) -> None:
        self.app = app
        self.app_name = app_name
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = self.routes.template(method, scope["path"])
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
        noted: dict[str, str] = {}  # filled by an error handler that answered a 5xx
        scope[EXCEPTION_SCOPE_KEY] = noted
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
            if exception is not None or noted:
                kind = noted.get("type") or type(exception).__name__
                EXCEPTIONS.labels(self.app_name, method, path, kind).inc()
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
