"""Queueing work: the task's row in the request's transaction, the message after commit.

The public face of the tasks feature for the others (with `tasks.models`).
"""

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pix_erase.container import Services
from pix_erase.errors import AppError, NotFound
from pix_erase.platform.broker import enqueue_task
from pix_erase.platform.db import UnitOfWork
from pix_erase.tasks.models import FINISHED, Task, TaskStatus
from pix_erase.tasks.repository import TaskRepository

MAX_WAIT_SECONDS = 30.0
LOOK_AGAIN_SECONDS = 1.0
RETRY_AFTER_SECONDS = 10


class TaskService:
    def __init__(self, uow: UnitOfWork, services: Services) -> None:
        self.uow = uow
        self.services = services

    async def queue(
        self, owner_id: uuid.UUID, image_id: uuid.UUID, kind: str, params: dict[str, Any]
    ) -> Task:
        """Add the task; it is sent to the broker once the request's transaction commits.

        A user may have `MAX_ACTIVE_TASKS_PER_USER` tasks queued or running; beyond that,
        429 with `Retry-After`.
        """
        limit = self.services.settings.tasks.max_active_per_user
        if await TaskRepository(self.uow.session).count_active(owner_id) >= limit:
            raise AppError(
                "too_many_active_tasks",
                f"You have {limit} tasks queued or running; wait for one to end "
                "(or cancel one) and try again.",
                429,
                details={"max_active_tasks": limit},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
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

    async def cancel(self, owner_id: uuid.UUID, task_id: uuid.UUID) -> Task:
        """Cancel a queued or running task: it ends failed with code `cancelled` at once.

        A queued task never runs (the runner skips finished tasks); a running one is
        stopped by its worker within a second (its pool process is killed) and stores
        nothing. 409 when it had already ended.
        """
        task = await TaskRepository(self.uow.session).get_owned_for_update(task_id, owner_id)
        if task is None:
            raise NotFound("Task")
        if task.status in FINISHED:
            raise AppError(
                "task_finished",
                f"The task has already ended ({task.status.value}).",
                409,
                details={"status": task.status.value},
            )
        task.status = TaskStatus.failed
        task.error_code = "cancelled"
        task.error_message = "Cancelled by its owner."
        task.finished_at = datetime.now(UTC)
        self.uow.after_commit(lambda: self.services.task_events.publish(task_id))
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
