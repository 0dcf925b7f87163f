"""Queries of tasks: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, Update, Uuid, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from pix_erase.platform.db import utcnow
from pix_erase.tasks.models import Task, TaskStatus

ACTIVE = (TaskStatus.queued, TaskStatus.running)

# The statements every task or poll runs, built once (building one costs more than
# running it on SQLite).
_GET_OWNED = select(Task).where(
    Task.id == bindparam("task_id"), Task.owner_id == bindparam("owner", type_=Uuid())
)
_COUNT_ACTIVE = (
    select(func.count())
    .select_from(Task)
    .where(Task.owner_id == bindparam("owner", type_=Uuid()), Task.status.in_(ACTIVE))
)
# Core statements on the table, not ORM-enabled ones: the worker runs both for every task,
# and the ORM's bulk-update path (building its cache key, its state) cost more CPU than
# the round trip.
_tasks = cast(Table, Task.__table__)
_START = (
    update(_tasks)
    .where(
        _tasks.c.id == bindparam("task_id"),
        _tasks.c.status.in_(ACTIVE),
        _tasks.c.attempts < bindparam("max_attempts"),
    )
    .values(
        status=TaskStatus.running,
        started_at=func.coalesce(
            _tasks.c.started_at, bindparam("now", type_=_tasks.c.started_at.type)
        ),
        attempts=_tasks.c.attempts + 1,
    )
    .returning(*_tasks.c)
)
_INSERT = insert(_tasks)
# What a new task starts as, for the columns its creator leaves unset.
_NEW: dict[str, Any] = {
    "status": TaskStatus.queued,
    "progress": 0.0,
    "attempts": 0,
    "error_code": None,
    "error_message": None,
    "result": None,
    "started_at": None,
    "finished_at": None,
    "image_id": None,
}


@cache
def _finish(columns: frozenset[str]) -> Update:
    """Set `finished_at` and `columns` of the task if it is still running."""
    values = {name: bindparam(f"new_{name}", type_=_tasks.c[name].type) for name in columns}
    return (
        update(_tasks)
        .where(_tasks.c.id == bindparam("task_id"), _tasks.c.status == TaskStatus.running)
        .values(finished_at=bindparam("now", type_=_tasks.c.finished_at.type), **values)
    )


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: Task) -> Task:
        """Write a new task's row with one Core statement built once (no ORM unit of work:
        every operation request adds one). `task` becomes a detached copy of its row; the
        columns it leaves unset take the values of a new, queued task."""
        given = task.__dict__
        values = {key: given.get(key, default) for key, default in _NEW.items()}
        values |= {key: given[key] for key in ("owner_id", "kind", "params")}
        values["id"] = given.get("id") or uuid.uuid4()
        values["created_at"] = given.get("created_at") or utcnow()
        connection = await self.session.connection()
        await connection.execute(_INSERT, values)
        for key, value in values.items():
            setattr(task, key, value)
        make_transient_to_detached(task)  # the row exists: never to be inserted again
        return task

    async def get(self, task_id: uuid.UUID) -> Task | None:
        return await self.session.get(Task, task_id)

    async def get_owned(self, task_id: uuid.UUID, owner_id: uuid.UUID) -> Task | None:
        return await self.session.scalar(_GET_OWNED, {"task_id": task_id, "owner": owner_id})

    async def start(self, task_id: uuid.UUID, max_attempts: int, now: datetime) -> Task | None:
        """Mark the task running and count the attempt, in one statement, if it is queued
        (or was running when its worker died) and has attempts left; else None."""
        params = {"task_id": task_id, "max_attempts": max_attempts, "now": now}
        connection = await self.session.connection()
        row = (await connection.execute(_START, params)).one_or_none()
        if row is None:
            return None
        task = Task(**row._mapping)
        make_transient_to_detached(task)  # the row exists: never to be inserted again
        return task

    async def finish(self, task_id: uuid.UUID, now: datetime, **values: Any) -> bool:
        """Record the outcome in one statement if the task is still running (not
        cancelled meanwhile); whether it was."""
        params = {f"new_{name}": value for name, value in values.items()}
        connection = await self.session.connection()
        result = await connection.execute(
            _finish(frozenset(values)), {"task_id": task_id, "now": now, **params}
        )
        return bool(getattr(result, "rowcount", 0))

    async def unfinished_ids(self) -> Sequence[uuid.UUID]:
        rows = await self.session.scalars(
            select(Task.id).where(Task.status.in_(ACTIVE)).order_by(Task.created_at)
        )
        return rows.all()

    async def count_active(self, owner_id: uuid.UUID) -> int:
        """The owner's queued and running tasks."""
        count = await self.session.scalar(_COUNT_ACTIVE, {"owner": owner_id})
        return count or 0

    async def get_owned_for_update(self, task_id: uuid.UUID, owner_id: uuid.UUID) -> Task | None:
        """Like `get_owned`, with the row locked (PostgreSQL) until the transaction ends."""
        return await self.session.scalar(
            select(Task).where(Task.id == task_id, Task.owner_id == owner_id).with_for_update()
        )
