"""Request-scoped dependencies: the services, the unit of work, and the current user.

The unit of work is the one place a request's transaction commits. It ends before the
response is sent (`scope="function"`), so a client that gets a 201/202 can read what it
created at once, and work queued with `after_commit` is enqueued only once the rows it
needs are committed.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.platform.security import hash_token
from pix_erase.users.models import User
from pix_erase.users.repository import SessionRepository

SESSION_COOKIE = "pix_erase_session"

log = structlog.get_logger(__name__)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


Callback = Callable[[], Awaitable[None]]


class UnitOfWork:
    """A request's session plus what must happen once it commits, or if it does not."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[Callback] = []
        self._on_rollback: list[Callback] = []

    def after_commit(self, callback: Callback) -> None:
        """Run `callback` once the transaction has committed (e.g. enqueue a task)."""
        self._after_commit.append(callback)

    def on_rollback(self, callback: Callback) -> None:
        """Undo a side effect outside the database (e.g. a stored object) if it rolls back."""
        self._on_rollback.append(callback)

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except BaseException:
            await self.rollback()
            raise
        for callback in self._after_commit:
            await callback()

    async def rollback(self) -> None:
        await self.session.rollback()
        for callback in reversed(self._on_rollback):
            try:
                await callback()
            except Exception:
                log.exception("rollback_compensation_failed")


async def _unit_of_work(services: ServicesDep) -> AsyncIterator[UnitOfWork]:
    async with services.sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()


UoW = Annotated[UnitOfWork, Depends(_unit_of_work, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A session token from /auth/login.")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The login cookie.")


def session_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    if bearer is not None:
        return bearer.credentials
    return cookie


async def _current_user(uow: UoW, token: Annotated[str | None, Depends(session_token)]) -> User:
    if not token:
        raise AppError(
            "not_authenticated",
            "Log in first: send a bearer token or the cookie.",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    found = await SessionRepository(uow.session).get_live(hash_token(token), datetime.now(UTC))
    if found is None:
        raise AppError(
            "invalid_session",
            "The session is invalid, expired or revoked.",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found[1]


CurrentUser = Annotated[User, Depends(_current_user)]


async def _admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AppError("forbidden", "This needs an administrator.", 403)
    return user


AdminUser = Annotated[User, Depends(_admin_user)]
