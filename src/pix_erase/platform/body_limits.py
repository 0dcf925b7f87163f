"""Request bodies limited in size and pace: a pure ASGI middleware (docs/security.md).

Without it a client could hold the server with a body: a 300 MB JSON document read
whole before validation, a chunked upload spooled to disk until it ends, or a body that
never comes. Here every body is counted as it arrives:

- A body larger than its route's limit is refused (413) as soon as its declared
  `Content-Length` or its running count passes the limit, never read to the end.
- Each part of a body must come within `timeout` seconds, and, after a first `timeout`
  seconds of grace, the body must keep an average of `min_rate` bytes a second; a
  client that falls behind gets a 408 (or, mid-response, its connection closed).

Bodies of most routes are small (JSON) and are read here, whole, before the app runs,
so validation never sees more than the limit. Streamed routes (uploads) read their body
themselves; the receive channel they read from raises `BodyRejected`, which the app's
error handlers answer in the envelope.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Builds the response for a refused body: (status, code, message, details) -> ASGI app.
Reject = Callable[[int, str, str, dict[str, Any]], ASGIApp]


class BodyRejected(Exception):
    """A body over its limit (413) or too slow (408)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(code, message)
        self.status, self.code, self.message, self.details = status, code, message, details


def too_large(limit: int) -> BodyRejected:
    message = f"The request body is larger than the limit of {limit} bytes."
    return BodyRejected(413, "request_too_large", message, {"max_bytes": limit})


def too_slow() -> BodyRejected:
    message = "The request body arrived too slowly; send it again."
    return BodyRejected(408, "request_timeout", message, {})


class _Reader:
    """Receives one request's body within its size limit and pace."""

    def __init__(self, receive: Receive, limit: int, timeout: float, min_rate: float) -> None:
        self.receive = receive
        self.limit, self.timeout, self.min_rate = limit, timeout, min_rate
        self.started = time.monotonic()
        self.received = 0
        self.done = False

    def _patience(self) -> float:
        patience = self.timeout
        if self.min_rate > 0:
            # The moment the bytes so far stop being enough for the minimum average rate.
            due = self.started + self.timeout + self.received / self.min_rate
            patience = min(patience, due - time.monotonic())
        return patience

    async def __call__(self) -> Message:
        if self.done:  # after the body, only a disconnect can come: no deadline for it
            return await self.receive()
        patience = self._patience()
        if patience <= 0:
            raise too_slow()
        try:
            # A timer, not `wait_for`'s task per message: an upload is hundreds of them.
            async with asyncio.timeout(patience):
                message = await self.receive()
        except TimeoutError:
            raise too_slow() from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise too_large(self.limit)
            self.done = not message.get("more_body", False)
        return message


class BodyLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        reject: Reject,
        max_bytes: int,
        streamed: Mapping[tuple[str, str], int],
        timeout: float,
        min_rate: float,
    ) -> None:
        """`max_bytes` for every body but those of `streamed` routes ((method, path) ->
        their own limit), which the route reads itself as it arrives."""
        self.app = app
        self.reject = reject
        self.max_bytes = max_bytes
        self.streamed = streamed
        self.timeout, self.min_rate = timeout, min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # HTTP/1.1: no body at all
            return
        streamed_limit = self.streamed.get((scope["method"], scope["path"]))
        limit = self.max_bytes if streamed_limit is None else streamed_limit
        reader = _Reader(receive, limit, self.timeout, self.min_rate)
        if streamed_limit is not None and not _declares_more(declared, limit):
            # The route reads the body; `reader` raises as it falls behind or overflows.
            await self.app(scope, reader, send)
            return
        try:
            if _declares_more(declared, limit):
                raise too_large(limit)
            messages = [await reader()]
            while not reader.done and messages[-1]["type"] == "http.request":
                messages.append(await reader())
        except BodyRejected as exc:
            refusal = self.reject(exc.status, exc.code, exc.message, exc.details)
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


def _declares_more(declared: str | None, limit: int) -> bool:
    return declared is not None and declared.isdigit() and int(declared) > limit


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The body already read, then the client's channel (for its disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
