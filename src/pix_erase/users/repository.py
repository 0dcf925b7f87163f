"""Queries of the users feature: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

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


_LIVE_USER = (
    select(User.id, User.email, User.name, User.is_admin, User.is_active, User.created_at)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > bindparam("now"),
        User.is_active.is_(True),
    )
)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user_session: UserSession) -> UserSession:
        self.session.add(user_session)
        await self.session.flush()
        return user_session

    async def live_user(self, token_hash: str, now: datetime) -> User | None:
        """The active user of the unrevoked, unexpired session with this token.

        Every authenticated request asks this, so it is one indexed Core statement, built
        once, on the session's connection: no ORM loading, and no connection of its own.
        The user is a detached copy of the row (without the password hash).
        """
        connection = await self.session.connection()
        found = await connection.execute(_LIVE_USER, {"token_hash": token_hash, "now": now})
        row = found.one_or_none()
        if row is None:
            return None
        user = User(**row._mapping)
        make_transient_to_detached(user)  # the row exists: never to be inserted again
        return user

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

    async def count(
        self, key: str, now: datetime, window_started_after: datetime
    ) -> tuple[int, datetime]:
        """Add one attempt to `key`'s window (a new window if it ended) in one statement.

        One `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` on both SQLite and PostgreSQL:
        parallel attempts each see their own count, none is lost, and no row lock is
        held between a read and a write.
        """
        row = LoginFailure
        ended = row.window_started_at <= window_started_after
        stamp = literal(now, type_=row.window_started_at.type)
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(row)
            .values(key=key, failures=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=[row.key],
                set_={
                    "failures": case((ended, 1), else_=row.failures + 1),
                    "window_started_at": case((ended, stamp), else_=row.window_started_at),
                },
            )
            .returning(row.failures, row.window_started_at)
        )
        failures, started = (await self.session.execute(statement)).one()
        return int(failures), started

    async def uncount(self, key: str) -> None:
        """Take back one attempt (a login that succeeded is not a failure)."""
        await self.session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == key, LoginFailure.failures > 0)
            .values(failures=LoginFailure.failures - 1)
        )

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.key == key))
