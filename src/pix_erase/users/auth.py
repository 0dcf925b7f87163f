"""Who is asking: the session token of a request, the current user, the administrator.

The public face of the users feature for the others: routes of every feature depend on
`CurrentUser` or `AdminUser`, and name the user's type as `User`.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from pix_erase.dependencies import UoW
from pix_erase.errors import AppError
from pix_erase.platform.security import hash_token
from pix_erase.users.models import User
from pix_erase.users.repository import SessionRepository

__all__ = ["SESSION_COOKIE", "AdminUser", "CurrentUser", "OptionalUser", "User", "session_token"]

SESSION_COOKIE = "pix_erase_session"

_bearer = HTTPBearer(auto_error=False, description="A session token from /auth/login.")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The login cookie.")


async def session_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    if bearer is not None:
        return bearer.credentials
    return cookie


async def _optional_user(
    uow: UoW, token: Annotated[str | None, Depends(session_token)]
) -> User | None:
    if not token:
        return None
    return await _current_user(uow, token)


async def _current_user(uow: UoW, token: Annotated[str | None, Depends(session_token)]) -> User:
    """The session's user, looked up on the request's own database connection.

    One statement, checked on every request, so a logout, a deactivation or a revoked
    session takes effect at the next request in every process. The connection is the
    one the route's work uses next; a route that then waits for a request body (the
    upload) first gives it back (`UnitOfWork.release`), so a client that sends its body
    slowly, or never, holds no connection.
    """
    if not token:
        raise AppError(
            "not_authenticated",
            "Log in first: send a bearer token or the cookie.",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = await SessionRepository(uow.session).live_user(hash_token(token), datetime.now(UTC))
    if user is None:
        raise AppError(
            "invalid_session",
            "The session is invalid, expired or revoked.",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(_current_user)]
OptionalUser = Annotated[User | None, Depends(_optional_user)]
"""The user when the request carries a session (a bad one is still a 401), else None."""


async def _admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError("forbidden", "This needs an administrator.", 403)
    return user


AdminUser = Annotated[User, Depends(_admin_user)]
