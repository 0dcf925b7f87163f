"""The task side: what a broker runs, and how a process hosts it.

`serve` hosts the worker inside the API process (in-process broker). `pix-erase worker`
hosts it alone: one asyncio receiver process that takes tasks from Redis and sends the
image work to a pool of `--processes N` processes (so metrics live in one process).
"""

import asyncio
import signal
import uuid
from typing import Annotated, Any

import structlog
from prometheus_client import start_http_server
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends
from taskiq.receiver import Receiver

import pix_erase.models  # noqa: F401  (every table, so foreign keys resolve)
from pix_erase.container import Services, build_services
from pix_erase.images.operations import TASK_HANDLERS
from pix_erase.images.sweep import sweep_periodically
from pix_erase.platform.broker import RUN_TASK, enqueue_task
from pix_erase.platform.db import transaction
from pix_erase.platform.faults import UNAVAILABLE
from pix_erase.platform.observability.metrics import WORKER_INFO
from pix_erase.platform.observability.tracing import setup_tracing, shutdown_tracing
from pix_erase.platform.pool import after_job
from pix_erase.platform.redis_broker import ReliableStreamBroker
from pix_erase.platform.startup import (
    SERVER_HEAP_KEPT,
    freeze_startup_objects,
    keep_freed_memory,
)
from pix_erase.setup.config import Settings
from pix_erase.tasks.repository import TaskRepository
from pix_erase.tasks.runner import TaskRunner

log = structlog.get_logger(__name__)
MAX_RETRY_DELAY = 30.0
STOP_TIMEOUT = 15.0  # for stopped tasks to record that they go back to the queue


async def run_task(
    task_id: str,
    services: Annotated[Services, TaskiqDepends()],
    context: Annotated[Context, TaskiqDepends()],
) -> str | None:
    """Run one task; returns its outcome ("succeeded", "failed"), None when skipped."""
    broker = context.broker
    if isinstance(broker, ReliableStreamBroker):
        # Once its image work is done, the worker may take the next task from Redis.
        taskiq_id = context.message.task_id
        after_job.set(lambda: broker.done_with_process(taskiq_id))
    try:
        return await TaskRunner(services, TASK_HANDLERS).run(uuid.UUID(task_id))
    except asyncio.CancelledError:
        # Stopped at shutdown (the runner put it back to queued). taskiq acks a cancelled
        # task like any other, so a Redis worker sends it again first; the in-process
        # broker's queue dies with the process (`requeue_unfinished` runs it at the start).
        if services.stopping and isinstance(context.broker, ReliableStreamBroker):
            await context.requeue()
        raise
    except UNAVAILABLE as exc:
        # A backend is down: put the task back (after a pause) instead of failing it.
        retries = int(context.message.labels.get("X-Taskiq-requeue", 0))
        delay = min(MAX_RETRY_DELAY, 0.5 * 2**retries)
        log.warning("task_deferred", task_id=task_id, error=type(exc).__name__, retry_in=delay)
        await asyncio.sleep(delay)
        await context.requeue()
        return None


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


async def stop_running_tasks(services: Services, others: "set[asyncio.Task[Any]]") -> int:
    """Stop what still runs after the grace period: each running task goes back to queued
    (its pool process is killed); `others` (not started yet) are cancelled as they are."""
    services.stopping = True
    running = {*services.running_tasks, *others}
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=STOP_TIMEOUT)
        log.warning("tasks_unfinished_at_shutdown", count=len(services.running_tasks))
    return len(running)


async def stop_in_process_worker(services: Services) -> None:
    """Let running tasks finish for the grace period; then stop them (they stay queued, so
    the next start runs them: `requeue_unfinished`) and stop the broker."""
    services.stopping = True
    broker = services.broker
    if isinstance(broker, InMemoryBroker):
        try:
            await asyncio.wait_for(broker.wait_all(), services.settings.app.shutdown_grace_seconds)
        except TimeoutError:
            await stop_running_tasks(services, set(broker._running_tasks))
    await broker.shutdown()


async def run_worker(settings: Settings, processes: int) -> None:
    """Take tasks from Redis until SIGTERM/SIGINT; then finish or re-queue what is held."""
    setup_tracing(settings.observability, role="worker")
    services = build_services(settings, processes=processes)
    broker = services.broker
    if not isinstance(broker, ReliableStreamBroker):
        raise SystemExit("pix-erase worker needs REDIS_URL (serve runs tasks in-process)")
    register_tasks(broker, services)
    grace = settings.app.shutdown_grace_seconds
    # Twice the pool's worth of tasks that still need a process (each process has its next
    # task ready, its source read, when it frees), and up to twice that many in all (tasks
    # whose image work is done store their results meanwhile). Held tasks keep their
    # claim, so none is lost.
    broker.max_waiting = 2 * processes
    receiver = Receiver(
        broker,
        max_async_tasks=4 * processes,
        max_prefetch=0,
        propagate_exceptions=False,
        wait_tasks_timeout=grace,
    )
    finish = asyncio.Event()
    sweeper = asyncio.create_task(sweep_periodically(services))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, finish.set)
    # Metrics stay in this one receiver process (the pool only does pure image work), so
    # one scrape sees every task and exemplars survive.
    WORKER_INFO.labels(settings.observability.app_name).set(1)
    metrics_server, metrics_thread = start_http_server(
        settings.server.worker_metrics_port, addr=settings.server.host
    )
    log.info("worker_started", processes=processes, metrics_port=metrics_server.server_port)
    freeze_startup_objects()
    keep_freed_memory(SERVER_HEAP_KEPT)
    listening = asyncio.create_task(receiver.listen(finish))
    try:
        await finish.wait()
        services.stopping = True
        log.info("worker_stopping", grace_seconds=grace)
        try:
            await asyncio.wait_for(asyncio.shield(listening), grace + 5)
        except TimeoutError:
            listening.cancel()
    finally:
        services.stopping = True
        if not listening.done():
            listening.cancel()
        stopped = await stop_running_tasks(services, set())
        sweeper.cancel()
        requeued = stopped + await broker.requeue_held()
        await broker.shutdown()
        await services.close()
        metrics_server.shutdown()
        metrics_thread.join(timeout=5)
        shutdown_tracing()
        log.info("worker_stopped", requeued=requeued)
