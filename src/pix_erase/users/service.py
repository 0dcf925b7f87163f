"""Use cases of the users feature: sign up, log in and out, and the admin's controls."""

import math
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.errors import AppError, NotFound
from pix_erase.platform.db import SessionMaker, transaction
from pix_erase.platform.security import hash_password, hash_token, new_token, verify_password
from pix_erase.setup.config import AppSettings
from pix_erase.users.models import User, UserSession
from pix_erase.users.repository import LoginFailureRepository, SessionRepository, UserRepository


def normalize_email(email: str) -> str:
    """The one form of an address, the same at signup and at login (docs/security.md).

    NFKC folds compatibility look-alikes (a full-width `admin` becomes the ASCII one),
    casefold makes case not matter: one person cannot hold two accounts that read the same.
    """
    return unicodedata.normalize("NFKC", email.strip()).casefold()


@dataclass(frozen=True)
class Login:
    token: str
    expires_at: datetime
    user: User


async def create_user(
    session: AsyncSession, email: str, password: str, name: str | None, is_admin: bool = False
) -> User:
    # Hash before the first query: the session takes its pool connection lazily, so none
    # is held during Argon2's tenth of a second.
    password_hash = await hash_password(password)
    users = UserRepository(session)
    email = normalize_email(email)
    if await users.get_by_email(email) is not None:
        raise AppError("email_taken", "An account with this email already exists.", 409)
    user = User(email=email, name=name, password_hash=password_hash)
    user.is_admin = is_admin
    try:
        return await users.add(user)
    except IntegrityError as exc:  # a concurrent signup with the same email won the race
        raise AppError("email_taken", "An account with this email already exists.", 409) from exc


class LoginThrottle:
    """Counts login attempts per email and per client in a window; a success is taken back.

    Every attempt is counted before its password is checked, in one atomic statement per
    key, and then compared with the limit. So parallel guesses each see their own count,
    and no more than the limit of them ever reach the password check.
    """

    def __init__(self, settings: AppSettings) -> None:
        # One address may serve many people (an office, a proxy), so it gets more room.
        self.limits = {
            "email": settings.login_max_failures,
            "client": settings.login_max_failures_per_client,
        }
        self.window = timedelta(seconds=settings.login_window_seconds)

    async def count(self, session: AsyncSession, keys: Sequence[str], now: datetime) -> int:
        """Count one attempt for each key; the seconds to wait if any is over its limit."""
        failures = LoginFailureRepository(session)
        retry_after = 0.0
        for key in keys:
            count, started = await failures.count(key, now, window_started_after=now - self.window)
            if count > self.limits[key.split(":", 1)[0]]:
                retry_after = max(retry_after, (started + self.window - now).total_seconds())
        return math.ceil(retry_after)

    async def succeeded(self, session: AsyncSession, email_key: str, client_key: str) -> None:
        failures = LoginFailureRepository(session)
        await failures.clear(email_key)
        await failures.uncount(client_key)


def too_many_attempts(seconds: int) -> AppError:
    return AppError(
        "too_many_login_attempts",
        f"Too many failed logins; try again in {seconds} seconds.",
        429,
        headers={"Retry-After": str(seconds)},
    )


class AuthService:
    """Log in and out.

    Login runs its own short transactions instead of the request's unit of work: one to
    count the attempt and find the user, none while Argon2 checks the password (a
    tenth of a second of CPU), one to open the session. A login therefore never holds
    a pool connection while it waits for anything, nor two at once, and its attempt
    stays counted whatever the answer.
    """

    def __init__(self, sessionmaker: SessionMaker, settings: AppSettings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.throttle = LoginThrottle(settings)

    async def login(self, email: str, password: str, client: str) -> Login:
        now = datetime.now(UTC)
        email = normalize_email(email)
        email_key, client_key = f"email:{email}", f"client:{client}"
        async with transaction(self.sessionmaker) as session:
            retry_after = await self.throttle.count(session, [email_key, client_key], now)
            user = None if retry_after else await UserRepository(session).get_by_email(email)
        if retry_after:
            raise too_many_attempts(retry_after)
        # Verify even for an unknown email, so timing does not tell which emails exist.
        valid = await verify_password(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            raise AppError("invalid_credentials", "Wrong email or password.", 401)
        token = new_token()
        expires_at = now + timedelta(seconds=self.settings.session_ttl_seconds)
        async with transaction(self.sessionmaker) as session:
            await self.throttle.succeeded(session, email_key, client_key)
            await SessionRepository(session).add(
                UserSession(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at)
            )
        return Login(token=token, expires_at=expires_at, user=user)

    async def logout(self, session: AsyncSession, token: str) -> None:
        await SessionRepository(session).revoke(hash_token(token), datetime.now(UTC))


class UserAdminService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)

    async def list(self, limit: int, offset: int) -> tuple[Sequence[User], int]:
        return await self.users.list(limit, offset)

    async def get(self, user_id: uuid.UUID) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("User")
        return user

    async def _other(self, admin: User, user_id: uuid.UUID) -> User:
        user = await self.get(user_id)
        if user.id == admin.id:
            raise AppError(
                "cannot_change_self", "Administrators cannot deactivate or demote themselves.", 409
            )
        return user

    async def set_active(self, admin: User, user_id: uuid.UUID, active: bool) -> User:
        user = await self._other(admin, user_id)
        user.is_active = active
        if not active:
            await SessionRepository(self.session).revoke_all(user.id, datetime.now(UTC))
        await self.session.flush()
        return user

    async def set_admin(self, admin: User, user_id: uuid.UUID, is_admin: bool) -> User:
        user = await self._other(admin, user_id)
        user.is_admin = is_admin
        await self.session.flush()
        return user
