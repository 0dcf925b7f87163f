"""The task broker: taskiq's in-process broker in `serve`, Redis Streams in production.

Work is enqueued by task name, so a process that only enqueues (the API) does not need
the task functions; the worker registers them (`pix_erase.worker`).
"""

import uuid

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.kicker import AsyncKicker

from pix_erase.platform.redis_broker import ReliableStreamBroker
from pix_erase.setup.config import Settings

RUN_TASK = "pix_erase.run_task"


def create_broker(settings: Settings) -> AsyncBroker:
    if settings.app.redis_url:
        return ReliableStreamBroker(
            settings.app.redis_url,
            idle_timeout_ms=int(settings.app.task_claim_timeout_seconds * 1000),
            reclaim_interval=min(5.0, settings.app.task_claim_timeout_seconds / 2),
        )
    # In-process: a kicked task runs as an asyncio task in this process; its CPU work goes
    # to the process pool.
    return InMemoryBroker(max_async_tasks=max(2, (settings.app.processes or 2) * 2))


async def ping_broker(broker: AsyncBroker) -> None:
    if isinstance(broker, ReliableStreamBroker):
        await broker.ping()


async def enqueue_task(broker: AsyncBroker, task_id: uuid.UUID) -> None:
    await AsyncKicker[[str], None](RUN_TASK, broker, labels={}).kiq(str(task_id))
