"""How uvicorn serves PixErase: limits and timeouts no client can talk its way past.

uvicorn's defaults suit a server behind a careful proxy, not one on its own: its parsers
accept headers of any size, no timer covers a request's headers, and
`X-Forwarded-For` is believed from every loopback peer. Here (docs/security.md):

- httptools (C; h11's pure Python cost 8-35 % more CPU per request), with a limit
  on a request line plus headers (`max_header_bytes`: larger is a 400 and the connection
  closes) that httptools itself does not have;
- a deadline for each request's line and headers (`header_timeout_seconds`): a client
  that opens a connection and sends nothing, or one byte at a time, is disconnected;
- at most `limit_concurrency` connections or running requests; past it, a 503;
- idle keep-alive connections closed after `keep_alive_timeout_seconds`;
- forwarded headers believed only from the `FORWARDED_ALLOW_IPS` proxies.

The answers uvicorn gives without the app (a 400 for a head it cannot parse or that is too
large, the 503 past the limit) are in the API's error envelope, `{"code", "message",
"details"}`, like every other error, instead of uvicorn's plain text.

Request bodies have their own limits, in the app (`pix_erase.platform.body_limits`).
"""

import asyncio
import json
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from pix_erase.setup.config import ServerSettings


def uvicorn_options(server: ServerSettings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` from the server settings."""
    proxies = server.trusted_proxies
    return {
        "http": guarded_httptools(server.header_timeout_seconds, server.max_header_bytes),
        "limit_concurrency": server.limit_concurrency,
        "timeout_keep_alive": server.keep_alive_timeout_seconds,
        # With no proxy configured, uvicorn must not read the headers at all (its own
        # default trusts 127.0.0.1, and FORWARDED_ALLOW_IPS from the environment).
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }


def _envelope(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message, "details": None}).encode()


_BUSY = _envelope("server_busy", "The server has all the connections it takes; try again shortly.")


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    """The 503 past `limit_concurrency`, answered without the app."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_BUSY)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _BUSY, "more_body": False})


def guarded_httptools(header_timeout: float, max_header_bytes: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a size limit and a deadline for each request's
    line and headers (its "head").

    While a head is open the parser is fed no more than the bytes it may still take, so
    a head that does not end within `max_header_bytes` is refused without buffering more
    of it (a pipelined request's head that begins inside a body's read is bounded by that
    read). Bytes are counted generously: all of a piece after which a head is still open
    counts, even the part that belonged to the body before it.
    """

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _head_open = True  # between requests, or inside a request's head
        _head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            while data and not self.transport.is_closing():
                if not self._head_open:
                    piece, data = data, b""
                else:
                    room = max_header_bytes - self._head_bytes
                    if room <= 0:
                        self.send_400_response("Request line and headers are too large.")
                        return
                    piece, data = data[:room], data[room:]
                super().data_received(piece)
                if self._head_open:  # a head is open after this piece: all of it counts
                    self._head_bytes += len(piece)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_open, self._head_bytes = True, 0

        def on_headers_complete(self) -> None:
            self._head_open = False
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            waiting = bool(self.pipeline)  # a next request whose head already came
            super().on_response_complete()
            if not self.transport.is_closing():
                self._head_open = self._head_open or not waiting
                self._arm()  # the next request's head gets the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            body = _envelope("bad_request", msg)
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            head += [
                name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
            ]
            head += [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join([*head, body]))
            self.transport.close()

        def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
            super()._start_asgi_task(cycle, _busy if app is service_unavailable else app)  # type: ignore[arg-type]

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self._head_open and not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpToolsProtocol
