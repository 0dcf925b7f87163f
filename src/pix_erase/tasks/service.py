"""Queueing work: the task's row in the request's transaction, the message after commit.

The public face of the tasks feature for the others (with `tasks.models`).
"""

import asyncio
import contextlib
import time
import uuid
from typing import Any

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.platform.broker import enqueue_task
from pix_erase.platform.db import UnitOfWork
from pix_erase.tasks.models import FINISHED, Task, TaskStatus
from pix_erase.tasks.repository import TaskRepository

MAX_WAIT_SECONDS = 30.0
LOOK_AGAIN_SECONDS = 1.0


class TaskService:
    def __init__(self, uow: UnitOfWork, services: Services) -> None:
        self.uow = uow
        self.services = services

    async def queue(
        self, owner_id: uuid.UUID, image_id: uuid.UUID, kind: str, params: dict[str, Any]
    ) -> Task:
        """Add the task; it is sent to the broker once the request's transaction commits."""
        task = Task(owner_id=owner_id, image_id=image_id, kind=kind, params=params)
        task = await TaskRepository(self.uow.session).add(task)
        task_id = task.id
        self.uow.after_commit(lambda: self._enqueue(task_id))
        return task

    async def wait(self, task_id: uuid.UUID, owner_id: uuid.UUID, seconds: float) -> Task | None:
        """The owner's task once it has ended, or as it is after `seconds`; None if there is
        no such task. Holds no database connection while it waits."""
        deadline = time.monotonic() + seconds
        repository = TaskRepository(self.uow.session)
        with self.services.task_events.watch(task_id) as ended:
            while True:
                task = await repository.get_owned(task_id, owner_id)
                remaining = deadline - time.monotonic()
                if task is None or task.status in FINISHED or remaining <= 0:
                    return task
                await self.uow.session.rollback()  # reads only: give the connection back
                # An event is a hint; look again at least once a second regardless.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), min(remaining, LOOK_AGAIN_SECONDS))
                ended.clear()

    async def _enqueue(self, task_id: uuid.UUID) -> None:
        try:
            await enqueue_task(self.services.broker, task_id)
        except Exception as exc:
            async with self.services.sessionmaker() as session:
                task = await TaskRepository(session).get(task_id)
                if task is not None:
                    task.status = TaskStatus.failed
                    task.error_code = "broker_unavailable"
                    task.error_message = "The task could not be queued."
                    await session.commit()
            raise AppError(
                "broker_unavailable", "The task queue is unavailable; try again shortly.", 503
            ) from exc
