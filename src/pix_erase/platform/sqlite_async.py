"""SQLAlchemy's aiosqlite adapter with at most one thread hand-off per statement, and
none for a small read.

aiosqlite runs each SQLite connection in a thread of its own, and SQLAlchemy's adapter
awaits that thread for every cursor call (make the cursor, execute, fetch the rows, close
the cursor) and for every commit and rollback, even when nothing was written (the pool
rolls back each connection it takes back). Each hand-off wakes the thread and then the
event loop, which costs more CPU than the statement itself on the small indexed reads a
request makes. Here a statement is one function run in the connection's thread, its rows
coming back with it, and a commit or rollback outside a transaction is skipped.

A SELECT outside a transaction on a database in WAL mode runs on the event loop itself:
in WAL mode a reader takes no lock a writer holds, so it does not wait for writers, and
the session and row lookups of a request take a few hundred SQLite instructions (a few
microseconds; the hand-off they no longer make cost far more). A read that runs past
`INLINE_STEPS` instructions (a count over many rows, a sweep; a count of 200,000 rows is
cut off after about 50 µs) is interrupted by SQLite's progress handler and runs again,
whole, in the connection's thread; a read has no effect to undo.

Transactions, isolation, errors and the pool stay SQLAlchemy's and aiosqlite's. No library
offers this; it subclasses SQLAlchemy's adapter classes and is given to the engine as its
DBAPI module by `platform.db.create_engine`.
"""

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, int, int | None, list[Any] | None]

# SQLite virtual-machine instructions a read may take on the event loop before it is moved
# to the connection's thread; an indexed lookup of a row or two takes a few hundred.
INLINE_STEPS = 20_000


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In the connection's thread: the whole statement, its rows included."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _interrupt() -> int:
    return 1  # called after INLINE_STEPS instructions: stop the statement


def _run_inline(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome | None:
    """On the event loop: the read, or None when it ran past INLINE_STEPS."""
    connection.set_progress_handler(_interrupt, INLINE_STEPS)
    try:
        return _run(connection, operation, parameters, many=False)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode == sqlite3.SQLITE_INTERRUPT:
            return None
        raise
    finally:
        connection.set_progress_handler(None, 0)


def _is_read(operation: str) -> bool:
    return operation.lstrip()[:6].upper() == "SELECT"


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement is one call into the connection's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # no sqlite3 cursor outlives a call
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    async def _call(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt_connection = self._adapt_connection
        async with adapt_connection._execute_mutex:
            # Every earlier call into the connection's thread has returned: the loop may
            # use the connection (SQLAlchemy opens a file with check_same_thread=False).
            connection = self._connection
            raw = connection._conn
            outcome: _Outcome | None = None
            inline: bool = adapt_connection.reads_inline  # type: ignore[attr-defined]
            if inline and not many and not raw.in_transaction and _is_read(operation):
                outcome = _run_inline(raw, operation, parameters)
            if outcome is None:
                outcome = await connection._execute(_run, raw, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows or ())

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._call(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._call(operation, seq_of_parameters, many=True)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("reads_inline",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.reads_inline = False  # set by `read_inline_if_wal` once the mode is known

    def _in_transaction(self) -> bool:
        # Read while the connection's thread is idle (every call into it has returned):
        # a plain flag of SQLite's, safe to read from the event loop.
        connection: sqlite3.Connection | None = self._connection._connection
        return connection is not None and connection.in_transaction

    def commit(self) -> None:
        if self._in_transaction():  # a read-only transaction has nothing to commit
            super().commit()

    def rollback(self) -> None:
        if self._in_transaction():  # nor to roll back (the pool's reset on return)
            super().rollback()


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


def read_inline_if_wal(dbapi_connection: Any) -> None:
    """Let small reads of this connection run on the event loop if its database is in
    WAL mode (in any other journal mode a reader can wait for a writer's lock)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode")
    (mode,) = cursor.fetchone()
    cursor.close()
    dbapi_connection.reads_inline = str(mode).lower() == "wal"


def dbapi() -> Any:
    """The DBAPI module for `create_async_engine(..., module=dbapi())` on SQLite."""
    return _DBAPI(aiosqlite, sqlite3)
