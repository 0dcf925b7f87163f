"""Queueing work: the task's row in the request's transaction, the message after commit.

The public face of the tasks feature for the others (with `tasks.models`).
"""

import uuid
from typing import Any

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.platform.broker import enqueue_task
from pix_erase.platform.db import UnitOfWork
from pix_erase.tasks.models import Task, TaskStatus
from pix_erase.tasks.repository import TaskRepository


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
