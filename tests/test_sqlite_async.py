"""The SQLite adapter of embedded mode: small reads answered on the event loop, long reads
and every write in the connection's thread, and the loop never held up by either."""

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pix_erase.platform import sqlite_async
from pix_erase.platform.db import create_engine

# Three million rows counted: far past the instructions a read may take on the loop.
LONG_READ = (
    "SELECT count(*), thread() FROM (WITH RECURSIVE n(i) AS "
    "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT i FROM n)"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pix.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
        await connection.execute(text("INSERT INTO items VALUES (1, 'one')"))
    yield engine
    await engine.dispose()


async def _with_thread_function(connection: AsyncConnection) -> None:
    """`thread()` in SQL: the id of the thread that runs the statement."""
    raw = await connection.get_raw_connection()
    await raw.driver_connection.create_function("thread", 0, threading.get_ident)  # type: ignore[union-attr]


async def test_a_small_read_runs_on_the_event_loop(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await _with_thread_function(connection)
        row = (
            await connection.execute(text("SELECT name, thread() FROM items WHERE id = 1"))
        ).one()
    assert row == ("one", threading.get_ident())


async def test_a_long_read_moves_to_the_thread_and_the_loop_keeps_serving(
    engine: AsyncEngine,
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    async with engine.connect() as connection:
        await _with_thread_function(connection)
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        before = ticks
        count, thread = (await connection.execute(text(LONG_READ))).one()
        during = ticks - before
        task.cancel()
    assert count == 3_000_000  # run again whole after the interruption
    assert thread != threading.get_ident()
    assert during > 0  # other coroutines ran while it was counting


async def test_a_read_after_a_write_in_a_transaction_sees_it_and_runs_in_the_thread(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as writer, engine.connect() as reader:
        await _with_thread_function(writer)
        await _with_thread_function(reader)
        await writer.execute(text("INSERT INTO items VALUES (2, 'two')"))  # opens a transaction
        mine = (await writer.execute(text("SELECT count(*), thread() FROM items"))).one()
        # A write transaction is open: in WAL mode the other connection's read neither
        # waits for it nor sees its row, and still runs on the loop.
        theirs = (await reader.execute(text("SELECT count(*), thread() FROM items"))).one()
        await writer.commit()
        after = (await reader.execute(text("SELECT count(*) FROM items"))).scalar_one()
    assert mine[0] == 2
    assert mine[1] != threading.get_ident()
    assert theirs == (1, threading.get_ident())
    assert after == 2


async def test_a_database_not_in_wal_mode_reads_in_the_thread(tmp_path: Path) -> None:
    # Where WAL is not available a reader can wait for a writer's lock: never on the loop.
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}", module=sqlite_async.dbapi()
    )
    event.listen(
        engine.sync_engine, "connect", lambda conn, _: sqlite_async.read_inline_if_wal(conn)
    )
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            await _with_thread_function(connection)
            thread = (await connection.execute(text("SELECT thread()"))).scalar_one()
    finally:
        await engine.dispose()
    assert mode == "delete"
    assert thread != threading.get_ident()


async def test_a_failing_read_on_the_loop_raises_as_in_the_thread(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(Exception, match="no such table"):
            await connection.execute(text("SELECT * FROM no_such_table"))
        # The connection is still good, and its next read is answered.
        assert (await connection.execute(text("SELECT name FROM items"))).scalar_one() == "one"
