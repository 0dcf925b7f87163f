"""PostgreSQL transactions begin at the first write: reads run on their own, and a unit
of work's guarantees hold (its writes commit or roll back as one, its reads after a write
see that write, a locking read holds its lock until the end).

Whether a transaction is open is what PostgreSQL itself reports after each statement
(the status byte of its ReadyForQuery message, which asyncpg keeps).
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import pix_erase.models  # noqa: F401  (every table, so foreign keys resolve)
from pix_erase.platform.db import (
    SessionMaker,
    UnitOfWork,
    autocommit,
    create_engine,
    create_sessionmaker,
    transaction,
)
from pix_erase.platform.migrate import upgrade_head
from pix_erase.users.models import User
from tests.backends import ProductionBackends


@pytest.fixture(scope="module")
def migrated(production_backends: ProductionBackends) -> str:
    upgrade_head(production_backends.postgres.url)
    return production_backends.postgres.url


@pytest.fixture
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return create_sessionmaker(engine)


@pytest.fixture
async def other(migrated: str) -> AsyncIterator[asyncpg.Connection]:
    """A second client of the same database."""
    connection = await asyncpg.connect(migrated.replace("postgresql+asyncpg", "postgresql"))
    yield connection
    await connection.close()


async def server_in_transaction(session: AsyncSession) -> bool:
    connection = await (await session.connection()).get_raw_connection()
    driver: asyncpg.Connection = connection.driver_connection
    return bool(driver.is_in_transaction())


def new_user() -> User:
    return User(
        id=uuid.uuid4(),
        email=f"{uuid.uuid4().hex}@example.com",
        password_hash="x",
        is_admin=False,
        is_active=True,
        created_at=datetime.now(UTC),
    )


async def test_reads_run_outside_a_transaction(sessionmaker: SessionMaker) -> None:
    async with sessionmaker() as session:
        uow = UnitOfWork(session)
        assert await session.scalar(select(User).where(User.email == "nobody@x.org")) is None
        await session.scalar(select(User.id).limit(1))
        assert not await server_in_transaction(session)
        await uow.commit()


async def test_the_first_write_begins_what_the_commit_ends(
    sessionmaker: SessionMaker, other: asyncpg.Connection
) -> None:
    user = new_user()
    async with sessionmaker() as session:
        uow = UnitOfWork(session)
        await session.scalar(select(User.id).where(User.id == user.id))
        session.add(user)
        await session.flush()
        assert await server_in_transaction(session)
        # Not visible to others before the commit; visible to the unit's own reads.
        assert await other.fetchval("SELECT count(*) FROM users WHERE id = $1", user.id) == 0
        assert await session.scalar(select(User.email).where(User.id == user.id)) == user.email
        await uow.commit()
        assert not await server_in_transaction(session)
    assert await other.fetchval("SELECT count(*) FROM users WHERE id = $1", user.id) == 1


async def test_writes_of_a_failed_unit_all_roll_back(
    sessionmaker: SessionMaker, other: asyncpg.Connection
) -> None:
    first, second = new_user(), new_user()

    async def two_writes_then_fail() -> None:
        async with transaction(sessionmaker) as session:
            await session.scalar(select(User.id).limit(1))
            session.add(first)
            await session.flush()
            session.add(second)
            await session.flush()
            raise RuntimeError("the request failed after its writes")

    with pytest.raises(RuntimeError):
        await two_writes_then_fail()
    ids = [first.id, second.id]
    assert await other.fetchval("SELECT count(*) FROM users WHERE id = any($1)", ids) == 0


async def test_a_locking_read_holds_its_lock_until_the_end(
    sessionmaker: SessionMaker, other: asyncpg.Connection
) -> None:
    user = new_user()
    async with transaction(sessionmaker) as session:
        session.add(user)
    lock = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE NOWAIT"
    async with transaction(sessionmaker) as session:
        await session.scalar(select(User).where(User.id == user.id).with_for_update())
        assert await server_in_transaction(session)
        with pytest.raises(asyncpg.LockNotAvailableError):
            await other.fetch(lock, user.id)
    assert await other.fetch(lock, user.id)  # committed: the lock is gone


async def test_autocommit_commits_each_statement_on_its_own(
    sessionmaker: SessionMaker, other: asyncpg.Connection
) -> None:
    user = new_user()
    async with autocommit(sessionmaker) as session:
        session.add(user)
        await session.flush()
        assert not await server_in_transaction(session)
        assert await other.fetchval("SELECT count(*) FROM users WHERE id = $1", user.id) == 1
    # The pooled connection's next unit begins a transaction at its first write again.
    async with transaction(sessionmaker) as session:
        found = await session.scalar(select(User).where(User.id == user.id))
        assert found is not None
        assert not await server_in_transaction(session)
        found.name = "renamed"
        await session.flush()
        assert await server_in_transaction(session)
    assert await other.fetchval("SELECT name FROM users WHERE id = $1", user.id) == "renamed"
