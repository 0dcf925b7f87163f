"""Runs one task to its end: marks it running, reports progress, records the outcome.

A task that is delivered again (a worker died, a message was redelivered) runs again
unless it already finished; handlers make that harmless (see `images.operations.results`).
Every run is bounded:

- it may start at most `TASK_MAX_ATTEMPTS` times (a task that kills its worker every
  time is failed `too_many_attempts` instead of being re-run forever);
- its work may last `TASK_TIME_LIMIT_SECONDS` (then its pool process is killed and it
  fails `task_timeout`);
- its owner may cancel it (the API marks it failed `cancelled`; the watcher here sees
  that and stops the work, killing its pool process);
- when the worker stops, work still running after the grace period is stopped and the
  task goes back to `queued`, with this attempt not counted: the next start runs it.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.platform.db import autocommit, transaction
from pix_erase.platform.faults import UNAVAILABLE
from pix_erase.platform.pool import PoolProcessDied
from pix_erase.processing import ImageError
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import FINISHED, Task, TaskStatus
from pix_erase.tasks.repository import TaskRepository

log = structlog.get_logger(__name__)

Handler = Callable[[Services, Task, ProgressCallback], Awaitable[dict[str, Any]]]
WATCH_INTERVAL = 0.5


class TaskRunner:
    def __init__(self, services: Services, handlers: Mapping[str, Handler]) -> None:
        self.services = services
        self.handlers = handlers

    async def _start(self, task_id: uuid.UUID) -> Task | None:
        limit = self.services.settings.tasks.max_attempts
        # One statement; past the limit, a read and one more (a write standing alone).
        async with autocommit(self.services.sessionmaker) as session:
            tasks = TaskRepository(session)
            task = await tasks.start(task_id, limit, datetime.now(UTC))
            if task is not None:
                return task
            # Not started: gone, finished, or out of attempts (the one left to record).
            task = await tasks.get(task_id)
            if task is None or task.status in FINISHED:
                return None
            task.status = TaskStatus.failed
            task.error_code = "too_many_attempts"
            task.error_message = (
                f"The task was started {task.attempts} times and never finished "
                "(its worker stopped each time); it is not tried again."
            )
            task.finished_at = datetime.now(UTC)
            log.warning("task_failed", task_id=str(task_id), error_code="too_many_attempts")
            return None

    async def _finish(self, task_id: uuid.UUID, **values: Any) -> bool:
        """Record the outcome, unless the task stopped being ours (cancelled meanwhile)."""
        async with autocommit(self.services.sessionmaker) as session:  # one statement
            finished = await TaskRepository(session).finish(task_id, datetime.now(UTC), **values)
        if finished:
            await self.services.task_events.publish(task_id)  # wakes requests that `?wait=`
        return finished

    async def _requeue(self, task_id: uuid.UUID) -> None:
        """The worker is stopping: back to queued, and this attempt does not count."""
        async with transaction(self.services.sessionmaker) as session:
            task = await TaskRepository(session).get(task_id)
            if task is not None and task.status == TaskStatus.running:
                task.status = TaskStatus.queued
                task.attempts = max(0, task.attempts - 1)
        log.info("task_requeued", task_id=str(task_id))

    async def _watch(
        self, task_id: uuid.UUID, latest: list[float], work: "asyncio.Task[Any]"
    ) -> None:
        """Write progress now and then; stop the work when the task was cancelled."""
        written = 0.0
        while not work.done():
            await asyncio.sleep(WATCH_INTERVAL)
            with contextlib.suppress(*UNAVAILABLE):
                async with transaction(self.services.sessionmaker) as session:
                    task = await TaskRepository(session).get(task_id)
                    if task is None or task.status != TaskStatus.running:
                        log.info("task_cancelled", task_id=str(task_id))
                        work.cancel()
                        return
                    if latest[0] > written:
                        written = latest[0]
                        task.progress = min(written, 0.99)

    async def run(self, task_id: uuid.UUID) -> str | None:
        """Run the task; its final status, or None if it had already finished."""
        task = await self._start(task_id)
        if task is None:
            log.info("task_skipped", task_id=str(task_id))
            return None
        current = asyncio.current_task()
        if current is not None:
            self.services.running_tasks.add(current)
        try:
            return await self._run(task)
        except asyncio.CancelledError:
            if self.services.stopping:
                await asyncio.shield(self._requeue(task_id))
            raise
        finally:
            if current is not None:
                self.services.running_tasks.discard(current)

    async def _run(self, task: Task) -> str | None:
        task_id = task.id
        handler = self.handlers.get(task.kind)
        if handler is None:
            return await self._fail(task_id, "unknown_task", f"No handler for {task.kind!r}.")
        latest = [0.0]

        def progress(fraction: float) -> None:
            latest[0] = max(latest[0], min(1.0, fraction))

        async def call() -> dict[str, Any]:
            assert handler is not None
            return await handler(self.services, task, progress)

        work = asyncio.create_task(call())
        watcher = asyncio.create_task(self._watch(task_id, latest, work))
        limit = self.services.settings.tasks.time_limit_seconds
        try:
            done, _ = await asyncio.wait({work}, timeout=limit)
        except asyncio.CancelledError:
            await _stop(work)  # the worker is stopping: the pool process goes with it
            raise
        finally:
            watcher.cancel()
        if not done:
            await _stop(work)
            log.warning("task_timeout", task_id=str(task_id), limit_seconds=limit)
            return await self._fail(
                task_id, "task_timeout", f"The task ran longer than its limit of {limit:g} s."
            )
        try:
            result = work.result()
        except asyncio.CancelledError:
            return TaskStatus.failed.value  # cancelled by its owner; the API recorded it
        except UNAVAILABLE:
            raise  # not the task's fault: the caller re-queues it
        except (ImageError, AppError) as exc:
            return await self._fail(task_id, exc.code, exc.message)
        except PoolProcessDied:
            if self.services.stopping:
                raise asyncio.CancelledError from None
            log.exception("task_worker_crashed", task_id=str(task_id))
            return await self._fail(
                task_id, "worker_crashed", "The image worker stopped (out of memory?)."
            )
        except Exception:
            log.exception("task_crashed", task_id=str(task_id))
            return await self._fail(task_id, "internal_error", "The task failed unexpectedly.")
        await self._finish(task_id, status=TaskStatus.succeeded, progress=1.0, result=result)
        log.info("task_succeeded", task_id=str(task_id), kind=task.kind)
        return TaskStatus.succeeded.value

    async def _fail(self, task_id: uuid.UUID, code: str, message: str) -> str:
        await self._finish(
            task_id, status=TaskStatus.failed, error_code=code, error_message=message[:1000]
        )
        log.info("task_failed", task_id=str(task_id), error_code=code)
        return TaskStatus.failed.value


async def _stop(work: "asyncio.Task[Any]") -> None:
    """Cancel the handler and wait until it has let go (its pool process is killed)."""
    work.cancel()
    await asyncio.wait({work})
