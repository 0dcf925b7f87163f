"""Who is asking: the session token of a request, the current user, the administrator.

The public face of the users feature for the others: routes of every feature depend on
`CurrentUser` or `AdminUser`, and name the user's type as `User`.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from pix_erase.dependencies import ServicesDep
from pix_erase.errors import AppError
from pix_erase.platform.security import hash_token
from pix_erase.users.models import User
from pix_erase.users.repository import SessionRepository

__all__ = ["SESSION_COOKIE", "AdminUser", "CurrentUser", "OptionalUser", "User", "session_token"]

SESSION_COOKIE = "pix_erase_session"

_bearer = HTTPBearer(auto_error=False, description="A session token from /auth/login.")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The login cookie.")


def session_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    if bearer is not None:
        return bearer.credentials
    return cookie


async def _optional_user(
    services: ServicesDep, token: Annotated[str | None, Depends(session_token)]
) -> User | None:
    if not token:
        return None
    return await _current_user(services, token)


async def _current_user(
    services: ServicesDep, token: Annotated[str | None, Depends(session_token)]
) -> User:
    """The session's user, looked up in a transaction of its own that ends at once.

    Not in the request's unit of work: that would keep a pool connection checked out
    from here to the response, so a client that sends its upload slowly (or never) would
    hold one, and a handful of such clients would starve every other request. The
    request's own session takes a connection only when it first queries.
    """
    if not token:
        raise AppError(
            "not_authenticated",
            "Log in first: send a bearer token or the cookie.",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with services.sessionmaker() as session:
        found = await SessionRepository(session).get_live(hash_token(token), datetime.now(UTC))
    if found is None:
        raise AppError(
            "invalid_session",
            "The session is invalid, expired or revoked.",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found[1]


CurrentUser = Annotated[User, Depends(_current_user)]
OptionalUser = Annotated[User | None, Depends(_optional_user)]
"""The user when the request carries a session (a bad one is still a 401), else None."""


async def _admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError("forbidden", "This needs an administrator.", 403)
    return user


AdminUser = Annotated[User, Depends(_admin_user)]
