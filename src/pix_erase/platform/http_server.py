"""How uvicorn serves PixErase: limits and timeouts no client can talk its way past.

uvicorn's defaults suit a server behind a careful proxy, not one on its own: httptools
accepts headers of any size, no timer covers a request's headers, and
`X-Forwarded-For` is believed from every loopback peer. Here (docs/security.md):

- h11, whose parser refuses a request line plus headers over `max_header_bytes` (400);
- a deadline for each request's line and headers (`header_timeout_seconds`): a client
  that opens a connection and sends nothing, or one byte at a time, is disconnected;
- at most `limit_concurrency` connections or running requests; past it, a 503;
- idle keep-alive connections closed after `keep_alive_timeout_seconds`;
- forwarded headers believed only from the `FORWARDED_ALLOW_IPS` proxies.

Request bodies have their own limits, in the app (`pix_erase.platform.body_limits`).
"""

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from pix_erase.setup.config import ServerSettings


def uvicorn_options(server: ServerSettings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` from the server settings."""
    proxies = server.trusted_proxies
    return {
        "http": guarded_h11(server.header_timeout_seconds),
        "h11_max_incomplete_event_size": server.max_header_bytes,
        "limit_concurrency": server.limit_concurrency,
        "timeout_keep_alive": server.keep_alive_timeout_seconds,
        # With no proxy configured, uvicorn must not read the headers at all (its own
        # default trusts 127.0.0.1, and FORWARDED_ALLOW_IPS from the environment).
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }


def guarded_h11(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline for the request line and headers."""

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the headers are all here
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers get the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol
