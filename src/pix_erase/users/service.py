"""Use cases of the users feature: sign up, log in and out, and the admin's controls."""

import math
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
    return email.strip().lower()


@dataclass(frozen=True)
class Login:
    token: str
    expires_at: datetime
    user: User


async def create_user(
    session: AsyncSession, email: str, password: str, name: str | None, is_admin: bool = False
) -> User:
    users = UserRepository(session)
    email = normalize_email(email)
    if await users.get_by_email(email) is not None:
        raise AppError("email_taken", "An account with this email already exists.", 409)
    user = User(email=email, name=name, password_hash=await hash_password(password))
    user.is_admin = is_admin
    try:
        return await users.add(user)
    except IntegrityError as exc:  # a concurrent signup with the same email won the race
        raise AppError("email_taken", "An account with this email already exists.", 409) from exc


class LoginThrottle:
    """Counts failed logins per email and per client in a sliding window.

    Failures are written in their own transaction: the failed request rolls back, but
    its failure must still count.
    """

    def __init__(self, sessionmaker: SessionMaker, settings: AppSettings) -> None:
        self.sessionmaker = sessionmaker
        # One address may serve many people (an office, a proxy), so it gets more room.
        self.limits = {
            "email": settings.login_max_failures,
            "client": settings.login_max_failures_per_client,
        }
        self.window = timedelta(seconds=settings.login_window_seconds)

    async def check(self, session: AsyncSession, keys: Sequence[str], now: datetime) -> None:
        retry_after = 0.0
        for row in await LoginFailureRepository(session).get_many(keys):
            reopens = row.window_started_at + self.window
            limit = self.limits[row.key.split(":", 1)[0]]
            if row.failures >= limit and reopens > now:
                retry_after = max(retry_after, (reopens - now).total_seconds())
        if retry_after:
            seconds = math.ceil(retry_after)
            raise AppError(
                "too_many_login_attempts",
                f"Too many failed logins; try again in {seconds} seconds.",
                429,
                headers={"Retry-After": str(seconds)},
            )

    async def record_failure(self, keys: Sequence[str], now: datetime) -> None:
        async with transaction(self.sessionmaker) as session:
            failures = LoginFailureRepository(session)
            for key in keys:
                await failures.record(key, now, window_started_after=now - self.window)

    async def clear(self, session: AsyncSession, key: str) -> None:
        await LoginFailureRepository(session).clear(key)


class AuthService:
    def __init__(self, session: AsyncSession, settings: AppSettings, throttle: LoginThrottle):
        self.session = session
        self.settings = settings
        self.throttle = throttle

    async def login(self, email: str, password: str, client: str) -> Login:
        now = datetime.now(UTC)
        email = normalize_email(email)
        keys = [f"email:{email}", f"client:{client}"]
        await self.throttle.check(self.session, keys, now)
        user = await UserRepository(self.session).get_by_email(email)
        # Verify even for an unknown email, so timing does not tell which emails exist.
        valid = await verify_password(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            await self.throttle.record_failure(keys, now)
            raise AppError("invalid_credentials", "Wrong email or password.", 401)
        await self.throttle.clear(self.session, keys[0])
        token = new_token()
        expires_at = now + timedelta(seconds=self.settings.session_ttl_seconds)
        await SessionRepository(self.session).add(
            UserSession(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at)
        )
        return Login(token=token, expires_at=expires_at, user=user)

    async def logout(self, token: str) -> None:
        await SessionRepository(self.session).revoke(hash_token(token), datetime.now(UTC))


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
