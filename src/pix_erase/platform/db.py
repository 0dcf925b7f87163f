"""Database engine, sessions and the declarative base (SQLAlchemy 2 async).

The same models and migrations run on SQLite (embedded) and PostgreSQL (production).
Repositories flush, never commit: the request or task wrapper owns the transaction.

On PostgreSQL a pooled connection that has been idle for `PING_AFTER_IDLE_SECONDS` is
pinged before use, and replaced if the server has gone (restarted, failed over). One
that was in use just before is not: pinging costs three round trips (asyncpg's ping
opens and rolls back a transaction), more than a short request's own work. If the
server restarts within that second, the first statement on such a connection fails
(a 503, or a task put back to wait) and the pool then replaces all its connections. A
connection lost in use raises `OperationalError`, what the service treats as "backend
down" (asyncpg's own error would pass for a bug: a 500, a failed task).

On PostgreSQL a transaction begins at its first write, not at its first statement: a
plain SELECT outside a transaction runs on its own (autocommit), and the first statement
that writes or locks rows (INSERT, UPDATE, DELETE, SELECT ... FOR UPDATE, anything else
that is not a plain SELECT) opens the transaction that the session's commit or rollback
ends. SQLite (pysqlite) has always behaved so. At READ COMMITTED, PostgreSQL's default and
the only level used here, every statement takes its own snapshot inside a transaction or
out of it, so a read sees the same rows either way; what a unit of work writes still
commits or rolls back as one, and the reads after its first write see its writes. What it
saves is asyncpg's BEGIN and COMMIT (or ROLLBACK) round trips around work that only
reads: most requests (the session lookup, the image's row, a task's state) and a task's
reads of its images. `autocommit` runs a unit that is one statement without them too.
"""

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import Connection, DateTime, MetaData, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator

from pix_erase.platform import sqlite_async

log = structlog.get_logger(__name__)
PING_AFTER_IDLE_SECONDS = 1.0

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    # WAL lets the API read while the in-process worker writes; foreign keys are off by
    # default in SQLite; busy_timeout turns a brief lock into a wait, not an error.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    sqlite_async.read_inline_if_wal(dbapi_conn)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 10.0
) -> AsyncEngine:
    """An engine whose pool waits at most `pool_timeout` seconds for a connection; past
    that it raises `sqlalchemy.exc.TimeoutError`, which the API answers with a 503."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, module=sqlite_async.dbapi(), **pool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, **pool)
    dialect = engine.dialect

    def returned(_: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    def ping_if_idle(
        dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        returned_at = record.info.get("returned_at")  # none yet: it has just connected
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:  # gone: the pool connects anew (up to three times)
            raise DisconnectionError(str(exc)) from exc

    def lost_is_down(context: ExceptionContext) -> BaseException | None:
        error, lost = context.sqlalchemy_exception, context.original_exception
        if context.is_disconnect and type(error) is DBAPIError:
            return OperationalError(
                error.statement, error.params, lost, connection_invalidated=True
            )
        return None

    event.listen(engine.sync_engine, "handle_error", lost_is_down)
    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", ping_if_idle)
    event.listen(engine.sync_engine, "before_cursor_execute", _begin_at_first_write)
    return engine


# Row locks last until the transaction ends, so a locking read must open one.
_LOCKS = re.compile(r"\bFOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _plain_read(statement: str) -> bool:
    """A SELECT that locks nothing. Anything else (a CTE included) counts as a write: the
    cost of being wrong that way is a BEGIN, the other way a lost guarantee."""
    return statement.lstrip()[:6].upper() == "SELECT" and _LOCKS.search(statement) is None


def _begin_at_first_write(
    conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    # Outside a transaction, asyncpg's adapter sends BEGIN before the statement unless it
    # is in autocommit mode; inside one, the statement joins it, whatever it is. An engine
    # or session set to AUTOCOMMIT (`autocommit` below) stays so: the setter falls back to
    # the connection's own isolation level.
    record = conn.connection
    driver = record.driver_connection
    if driver is not None and not driver.is_in_transaction():
        record.dbapi_connection.autocommit = _plain_read(statement)  # type: ignore[union-attr]


SessionMaker = async_sessionmaker[AsyncSession]


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A session whose work commits when the block ends and rolls back on error."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def autocommit(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A session for work that is one statement, atomic on its own: on PostgreSQL it runs
    with no transaction around it (no BEGIN and COMMIT round trips); on SQLite in a
    transaction, as `transaction` does. Work of two writes or more needs `transaction`."""
    async with transaction(sessionmaker) as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


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
        """Commit, then run what waited for it; a second commit runs nothing twice."""
        try:
            await self.session.commit()
        except BaseException:
            await self.rollback()
            raise
        callbacks, self._after_commit = self._after_commit, []
        self._on_rollback = []
        for callback in callbacks:
            await callback()

    async def release(self) -> None:
        """Give the connection back before a long wait; only reads may have happened.

        The next statement takes a connection again, in a new transaction.
        """
        if self.session.in_transaction():
            await self.session.rollback()

    async def rollback(self) -> None:
        await self.session.rollback()
        for callback in reversed(self._on_rollback):
            try:
                await callback()
            except Exception:
                log.exception("rollback_compensation_failed")
