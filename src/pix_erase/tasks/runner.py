"""Runs one task to its end: marks it running, reports progress, records the outcome.

A task that is delivered again (a worker died, a message was redelivered) runs again
unless it already finished; handlers make that harmless (see `images.operations.results`).
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import structlog

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.platform.db import transaction
from pix_erase.platform.faults import UNAVAILABLE
from pix_erase.processing import ImageError
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task, TaskStatus
from pix_erase.tasks.repository import TaskRepository

log = structlog.get_logger(__name__)

Handler = Callable[[Services, Task, ProgressCallback], Awaitable[dict[str, Any]]]
PROGRESS_WRITE_INTERVAL = 0.5


class TaskRunner:
    def __init__(self, services: Services, handlers: Mapping[str, Handler]) -> None:
        self.services = services
        self.handlers = handlers

    async def _start(self, task_id: uuid.UUID) -> Task | None:
        async with transaction(self.services.sessionmaker) as session:
            task = await TaskRepository(session).get(task_id)
            if task is None or task.status in (TaskStatus.succeeded, TaskStatus.failed):
                return None
            task.status = TaskStatus.running
            task.started_at = task.started_at or datetime.now(UTC)
            task.attempts += 1
            return task

    async def _finish(self, task_id: uuid.UUID, **values: Any) -> None:
        async with transaction(self.services.sessionmaker) as session:
            task = await TaskRepository(session).get(task_id)
            if task is None:
                return
            for name, value in values.items():
                setattr(task, name, value)
            task.finished_at = datetime.now(UTC)
        await self.services.task_events.publish(task_id)  # wakes requests that `?wait=`

    async def _write_progress(self, task_id: uuid.UUID, latest: list[float]) -> None:
        written = 0.0
        while True:
            await asyncio.sleep(PROGRESS_WRITE_INTERVAL)
            if latest[0] > written:
                written = latest[0]
                async with transaction(self.services.sessionmaker) as session:
                    task = await TaskRepository(session).get(task_id)
                    if task is not None and task.status == TaskStatus.running:
                        task.progress = min(written, 0.99)

    async def run(self, task_id: uuid.UUID) -> str | None:
        """Run the task; its final status, or None if it had already finished."""
        task = await self._start(task_id)
        if task is None:
            log.info("task_skipped", task_id=str(task_id))
            return None
        handler = self.handlers.get(task.kind)
        latest = [0.0]

        def progress(fraction: float) -> None:
            latest[0] = max(latest[0], min(1.0, fraction))

        writer = asyncio.create_task(self._write_progress(task_id, latest))
        try:
            if handler is None:
                raise AppError("unknown_task", f"No handler for tasks of kind {task.kind!r}.")
            result = await handler(self.services, task, progress)
        except UNAVAILABLE:
            raise  # not the task's fault: the caller re-queues it
        except (ImageError, AppError) as exc:
            await self._fail(task_id, exc.code, exc.message)
            return TaskStatus.failed.value
        except BrokenProcessPool:
            log.exception("task_worker_crashed", task_id=str(task_id))
            await self._fail(
                task_id, "worker_crashed", "The image worker stopped (out of memory?)."
            )
            return TaskStatus.failed.value
        except Exception:
            log.exception("task_crashed", task_id=str(task_id))
            await self._fail(task_id, "internal_error", "The task failed unexpectedly.")
            return TaskStatus.failed.value
        else:
            await self._finish(task_id, status=TaskStatus.succeeded, progress=1.0, result=result)
            log.info("task_succeeded", task_id=str(task_id), kind=task.kind)
            return TaskStatus.succeeded.value
        finally:
            writer.cancel()

    async def _fail(self, task_id: uuid.UUID, code: str, message: str) -> None:
        await self._finish(
            task_id, status=TaskStatus.failed, error_code=code, error_message=message[:1000]
        )
        log.info("task_failed", task_id=str(task_id), error_code=code)
