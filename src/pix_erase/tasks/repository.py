"""Queries of tasks: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.tasks.models import Task, TaskStatus

ACTIVE = (TaskStatus.queued, TaskStatus.running)


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: Task) -> Task:
        self.session.add(task)
        await self.session.flush()
        return task

    async def get(self, task_id: uuid.UUID) -> Task | None:
        return await self.session.get(Task, task_id)

    async def get_owned(self, task_id: uuid.UUID, owner_id: uuid.UUID) -> Task | None:
        return await self.session.scalar(
            select(Task).where(Task.id == task_id, Task.owner_id == owner_id)
        )

    async def unfinished_ids(self) -> Sequence[uuid.UUID]:
        rows = await self.session.scalars(
            select(Task.id).where(Task.status.in_(ACTIVE)).order_by(Task.created_at)
        )
        return rows.all()

    async def count_active(self, owner_id: uuid.UUID) -> int:
        """The owner's queued and running tasks."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.owner_id == owner_id, Task.status.in_(ACTIVE))
        )
        return count or 0

    async def get_owned_for_update(self, task_id: uuid.UUID, owner_id: uuid.UUID) -> Task | None:
        """Like `get_owned`, with the row locked (PostgreSQL) until the transaction ends."""
        return await self.session.scalar(
            select(Task).where(Task.id == task_id, Task.owner_id == owner_id).with_for_update()
        )
