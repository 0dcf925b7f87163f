"""Queries of the users feature: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.users.models import LoginFailure, User, UserSession


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def list(self, limit: int, offset: int) -> tuple[Sequence[User], int]:
        total = await self.session.scalar(select(func.count()).select_from(User))
        rows = await self.session.scalars(
            select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
        )
        return rows.all(), total or 0


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user_session: UserSession) -> UserSession:
        self.session.add(user_session)
        await self.session.flush()
        return user_session

    async def get_live(self, token_hash: str, now: datetime) -> tuple[UserSession, User] | None:
        """The unrevoked, unexpired session with this token and its active user."""
        result = await self.session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(
                UserSession.token_hash == token_hash,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
                User.is_active.is_(True),
            )
        )
        row = result.one_or_none()
        return None if row is None else (row[0], row[1])

    async def revoke(self, token_hash: str, now: datetime) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.token_hash == token_hash, UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_all(self, user_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )


class LoginFailureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, keys: Sequence[str]) -> Sequence[LoginFailure]:
        rows = await self.session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys)))
        return rows.all()

    async def record(self, key: str, now: datetime, window_started_after: datetime) -> None:
        row = await self.session.get(LoginFailure, key, with_for_update=True)
        if row is None:
            self.session.add(LoginFailure(key=key, failures=1, window_started_at=now))
        elif row.window_started_at <= window_started_after:
            row.failures, row.window_started_at = 1, now
        else:
            row.failures += 1
        await self.session.flush()

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.key == key))
