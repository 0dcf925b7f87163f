"""Task completion events: a request waiting for a task (`?wait=`) wakes when it ends.

In `serve` the task runs in the same process, so an in-process event does. In
production the worker publishes the task's id on a Redis channel and every API process
listens to it. An event is only a hint to look again: waiters re-read the task's row,
and look at least once a second, so a lost message costs at most a second, never an
answer.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import structlog
from redis.asyncio import Redis

from pix_erase.platform.faults import BACKEND_DOWN

CHANNEL = "pix_erase:task_finished"
log = structlog.get_logger(__name__)


class TaskEvents:
    """In-process events (the `serve` mode); the base of the Redis flavour."""

    def __init__(self) -> None:
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, task_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set when `task_id` is published; watch before reading the task's state,
        so an end between the read and the wait is not missed."""
        event = asyncio.Event()
        self._waiters.setdefault(task_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(task_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[task_id]

    def _wake(self, task_id: uuid.UUID) -> None:
        for event in self._waiters.get(task_id, ()):
            event.set()

    async def publish(self, task_id: uuid.UUID) -> None:
        """Tell waiters that the task ended (its row is committed)."""
        self._wake(task_id)

    async def start(self) -> None:
        """Begin receiving other processes' events (nothing to do in-process)."""

    async def close(self) -> None:
        """Stop receiving and let go of connections."""


class RedisTaskEvents(TaskEvents):
    """Events through a Redis channel, between the worker and every API process."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._listener: asyncio.Task[None] | None = None

    async def publish(self, task_id: uuid.UUID) -> None:
        self._wake(task_id)
        try:
            await self._redis.publish(CHANNEL, str(task_id))
        except BACKEND_DOWN as exc:  # waiters still look again within a second
            log.warning("task_event_not_published", task_id=str(task_id), error=type(exc).__name__)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake(uuid.UUID(message["data"].decode()))
            except BACKEND_DOWN as exc:
                log.warning("task_events_reconnecting", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()


def create_task_events(redis_url: str | None) -> TaskEvents:
    return RedisTaskEvents(redis_url) if redis_url else TaskEvents()
