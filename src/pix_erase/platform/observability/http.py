"""The request observer: a pure ASGI middleware that traces, counts, times and logs each
request.

With tracing on it opens the request's span (a SERVER span named by route template,
continuing a W3C `traceparent` the client sent) and keeps it current while the app runs,
so the SQL spans are its children, a queued task carries its trace, and the duration's
exemplar and the access-log line carry its trace id. `path` is the route template
(matched here, before the router runs, so the in-progress gauge has it too); every
unmatched path shares one value, so a scan of random URLs adds one series, not thousands.

One middleware does all of it: the template is matched once, and the request pays for one
span and the attributes it keeps rather than for the OpenTelemetry ASGI instrumentation's
(which decoded every header several times and set thirteen attributes per span).
"""

import re
import time
from collections.abc import Iterable, Sequence

import structlog
from fastapi.routing import iter_route_contexts
from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from prometheus_client.metrics import Counter, Gauge, Histogram
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pix_erase.platform.observability.metrics import (
    EXCEPTIONS,
    IN_PROGRESS,
    REQUEST_DURATION,
    REQUESTS,
    trace_exemplar,
)
from pix_erase.platform.observability.tracing import start_request_span

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
        for context_ in iter_route_contexts(self._routes):
            template = context_.path_format
            if template:
                methods = getattr(context_.original_route, "methods", None) or ()
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


class _ScopeHeaders(Getter[Scope]):
    """Reads propagation headers (`traceparent`, `tracestate`, `baggage`) from an ASGI
    scope, decoding only the ones asked for."""

    def get(self, carrier: Scope, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        found = [value.decode("latin-1") for header, value in carrier["headers"] if header == name]
        return found or None

    def keys(self, carrier: Scope) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier["headers"]]


_HEADERS = _ScopeHeaders()


class RequestObserver:
    """`tracer` is None when tracing is off; requests to `untraced` paths get no span."""

    def __init__(
        self,
        app: ASGIApp,
        app_name: str,
        routes: RouteTable,
        tracer: Tracer | None = None,
        untraced: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.app_name = app_name
        self.routes = routes
        self.tracer = tracer
        self.untraced = frozenset(untraced)
        # prometheus_client looks a labelled child up under a lock at every .labels():
        # each (method, template) and status code is looked up once.
        self._children: dict[tuple[str, str], tuple[Gauge, Histogram]] = {}
        self._counters: dict[tuple[str, str, int], Counter] = {}

    def _series(self, method: str, path: str) -> tuple[Gauge, Histogram]:
        found = self._children.get((method, path))
        if found is None:
            found = (
                IN_PROGRESS.labels(self.app_name, method, path),
                REQUEST_DURATION.labels(self.app_name, method, path),
            )
            self._children[method, path] = found
        return found

    def _count(self, method: str, path: str, status: int) -> None:
        counter = self._counters.get((method, path, status))
        if counter is None:
            counter = REQUESTS.labels(self.app_name, method, path, str(status))
            self._counters[method, path, status] = counter
        counter.inc()

    def _start_span(self, scope: Scope, method: str, path: str) -> tuple[Span, object]:
        assert self.tracer is not None
        parent = propagate.extract(scope, getter=_HEADERS)
        client = scope.get("client")
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "http.route": path,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        if client:
            attributes["client.address"] = client[0]
        span = start_request_span(self.tracer, f"{method} {path}", parent, attributes)
        return span, context.attach(trace.set_span_in_context(span, parent))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = self.routes.template(method, scope["path"])
        status = 500
        in_progress, duration = self._series(method, path)
        in_progress.inc()
        start = time.perf_counter()
        span = token = None
        if self.tracer is not None and scope["path"] not in self.untraced:
            span, token = self._start_span(scope, method, path)

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
            self._count(method, path, status)
            duration.observe(elapsed, exemplar=trace_exemplar())
            if exception is not None or noted:
                kind = noted.get("type") or type(exception).__name__
                EXCEPTIONS.labels(self.app_name, method, path, kind).inc()
            self._log(scope, method, status, elapsed)
            if span is not None:
                self._end_span(span, token, status, exception, noted.get("type"))

    @staticmethod
    def _end_span(
        span: Span, token: object, status: int, error: BaseException | None, noted: str | None
    ) -> None:
        span.set_attribute("http.response.status_code", status)
        if isinstance(error, Exception):
            span.record_exception(error)
        if status >= 500 or isinstance(error, Exception):
            kind = noted or (type(error).__name__ if error is not None else str(status))
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        context.detach(token)  # type: ignore[arg-type]

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
