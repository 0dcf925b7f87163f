"""CSRF protection for cookie-authenticated requests: a pure ASGI middleware.

The session cookie is already `SameSite=Strict`; this is the second fence. An unsafe
request (POST, PUT, PATCH, DELETE) that carries the session cookie and no
`Authorization` header must come from this site: `Sec-Fetch-Site` says `same-origin`
(or `none`, a user's own action), or, where a browser sends no `Sec-Fetch-Site`, the
`Origin` names this host. A request with neither header is not from a browser, so it
cannot be a forged one. Bearer clients never send the cookie's ambient authority and
pass untouched.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from pix_erase.errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def same_site_request(headers: Headers) -> bool:
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ALLOWED_FETCH_SITES
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host")
    return host is not None and origin != "null" and urlsplit(origin).netloc == host


class CsrfMiddleware:
    def __init__(self, app: ASGIApp, cookie_name: str) -> None:
        self.app = app
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        by_cookie = "authorization" not in headers and self.cookie_name in cookie_parser(
            headers.get("cookie", "")
        )
        if by_cookie and not same_site_request(headers):
            response = error_response(
                403,
                "csrf_failed",
                "This request did not come from this site's page, so it was refused.",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
