"""The task side: what a broker runs, and how a process starts and stops its worker part.

In `serve` the API process hosts the worker (in-process broker); the `worker` command of
production mode will host it alone.
"""

import asyncio
import uuid
from typing import Annotated

import structlog
from taskiq import AsyncBroker, InMemoryBroker, TaskiqDepends

from pix_erase.container import Services
from pix_erase.images.tasks import HANDLERS
from pix_erase.platform.broker import RUN_TASK, enqueue_task
from pix_erase.platform.db import transaction
from pix_erase.tasks.repository import TaskRepository
from pix_erase.tasks.runner import TaskRunner

log = structlog.get_logger(__name__)


async def run_task(task_id: str, services: Annotated[Services, TaskiqDepends()]) -> None:
    await TaskRunner(services, HANDLERS).run(uuid.UUID(task_id))


def register_tasks(broker: AsyncBroker, services: Services) -> None:
    broker.register_task(run_task, task_name=RUN_TASK)
    broker.add_dependency_context({Services: services})


async def requeue_unfinished(services: Services) -> int:
    """In-process broker only: queued work dies with the process, so start it again."""
    async with transaction(services.sessionmaker) as session:
        task_ids = await TaskRepository(session).unfinished_ids()
    for task_id in task_ids:
        await enqueue_task(services.broker, task_id)
    if task_ids:
        log.info("tasks_requeued", count=len(task_ids))
    return len(task_ids)


async def start_in_process_worker(services: Services) -> None:
    register_tasks(services.broker, services)
    await services.broker.startup()
    await requeue_unfinished(services)


async def stop_in_process_worker(services: Services, grace: float = 30.0) -> None:
    """Let running tasks finish (bounded), then stop the broker."""
    broker = services.broker
    if isinstance(broker, InMemoryBroker):
        try:
            await asyncio.wait_for(broker.wait_all(), grace)
        except TimeoutError:
            log.warning("tasks_unfinished_at_shutdown")
    await broker.shutdown()
