"""A Redis Streams broker whose at-least-once delivery holds when workers die.

taskiq-redis's `RedisStreamBroker` acks through a consumer group, but (measured with
taskiq-redis 1.2) it reclaims abandoned messages only right after a new message
arrives, and it also reclaims messages that live workers are still running once they
pass `idle_timeout`, which runs them twice. This subclass changes `listen` so that:

- abandoned messages (their worker was killed) are reclaimed on a timer, also while the
  stream is quiet;
- every message this worker holds has its claim refreshed (XCLAIM ... JUSTID) while it
  waits or runs, so only the messages of dead workers ever pass the idle timeout;
- on shutdown, messages still held are put back on the stream (XADD, then XACK of the
  old entry), so the next worker starts them at once instead of after the timeout;
- with `max_waiting` set, it reads a new message only while fewer than that many held
  messages still wait for or use an image process: a task whose image work is done
  (`done_with_process`) stays held until it ends, but no longer keeps the next one in
  Redis while a process is free;
- a Redis outage makes `listen` wait and retry instead of ending the worker.

A task's outcome lives in its database row, so no taskiq result backend keeps a copy
(that would be one more Redis write per task).
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

log = structlog.get_logger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


@dataclass
class _Held:
    stream: str
    data: bytes
    task_id: str | None
    heartbeat: "asyncio.Task[None]" = field(repr=False)
    waiting: bool = True  # its image work is not done yet


class ReliableStreamBroker(RedisStreamBroker):
    def __init__(
        self,
        url: str,
        *,
        idle_timeout_ms: int = 60_000,
        reclaim_interval: float = 5.0,
        queue_name: str = "pix_erase:tasks",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            url,
            queue_name=queue_name,
            consumer_group_name="pix_erase",
            consumer_id="0",  # a new group starts at the beginning: nothing queued is skipped
            idle_timeout=idle_timeout_ms,
            xread_block=2000,
            xread_count=1,  # take only what this worker is about to run
            socket_timeout=None,  # blocking reads must not hit a client-side timeout
            socket_connect_timeout=3,
            health_check_interval=15,
            **kwargs,
        )
        self.reclaim_interval = reclaim_interval
        self.heartbeat_interval = idle_timeout_ms / 1000 / 4
        self._held: dict[str, _Held] = {}
        self.max_waiting: int | None = None  # the worker sets it (see `done_with_process`)
        self._room = asyncio.Event()

    async def ping(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as redis:
            await redis.ping()

    def _hold(self, stream: str, msg_id: str, data: bytes) -> AckableMessage:
        heartbeat = asyncio.create_task(self._keep_claimed(stream, msg_id))
        self._held[msg_id] = _Held(stream, data, _task_id(data, self), heartbeat)

        async def ack() -> None:
            held = self._held.pop(msg_id, None)
            if held is not None:
                held.heartbeat.cancel()
                self._room.set()
            async with Redis(connection_pool=self.connection_pool) as redis:
                await redis.xack(stream, self.consumer_group_name, msg_id)

        return AckableMessage(data=data, ack=ack)

    def done_with_process(self, task_id: str) -> None:
        """The task (taskiq's id) has done its image work: it no longer counts against
        `max_waiting`, so the next message is read while it stores its result."""
        for held in self._held.values():
            if held.task_id == task_id and held.waiting:
                held.waiting = False
                self._room.set()
                return

    async def _wait_for_room(self) -> None:
        while self.max_waiting is not None:
            if sum(held.waiting for held in self._held.values()) < self.max_waiting:
                return
            self._room.clear()
            await self._room.wait()

    async def _keep_claimed(self, stream: str, msg_id: str) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    await redis.xclaim(
                        stream,
                        self.consumer_group_name,
                        self.consumer_name,
                        min_idle_time=0,
                        message_ids=[msg_id],
                        justid=True,
                    )
            except REDIS_DOWN:
                log.warning("broker_heartbeat_failed", message_id=msg_id)

    async def _reclaim(self, redis: "Redis") -> list[tuple[str, bytes]]:
        found: list[tuple[str, bytes]] = []
        # Redis 7 answers [next-start-id, claimed entries, ids of deleted entries].
        reply: Any = await redis.xautoclaim(
            self.queue_name,
            self.consumer_group_name,
            self.consumer_name,
            min_idle_time=self.idle_timeout,
            count=1,
        )
        for msg_id, fields in reply[1]:
            if fields is None:  # trimmed from the stream: nothing left to run
                await redis.xack(self.queue_name, self.consumer_group_name, msg_id)
                continue
            found.append((_text(msg_id), fields[b"data"]))
        if found:
            log.info("broker_reclaimed", count=len(found))
        return found

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        last_reclaim = 0.0
        backoff = 0.5
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    while True:
                        await self._wait_for_room()
                        fetched: Any = await redis.xreadgroup(
                            self.consumer_group_name,
                            self.consumer_name,
                            {self.queue_name: ">"},
                            block=self.block,
                            count=self.count,
                        )
                        for stream, messages in fetched or []:
                            for msg_id, fields in messages:
                                yield self._hold(_text(stream), _text(msg_id), fields[b"data"])
                        if time.monotonic() - last_reclaim >= self.reclaim_interval:
                            last_reclaim = time.monotonic()
                            for msg_id, data in await self._reclaim(redis):
                                yield self._hold(self.queue_name, msg_id, data)
                        backoff = 0.5
            except REDIS_DOWN as exc:
                log.warning("broker_unavailable", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                with contextlib.suppress(Exception):
                    await self._declare_consumer_group()  # Redis may have lost its data

    async def requeue_held(self) -> int:
        """Put every message this worker still holds back on the stream for others."""
        held, self._held = self._held, {}
        self._room.set()
        if not held:
            return 0
        async with Redis(connection_pool=self.connection_pool) as redis:
            for msg_id, item in held.items():
                item.heartbeat.cancel()
                await redis.xadd(item.stream, {b"data": item.data})
                await redis.xack(item.stream, self.consumer_group_name, msg_id)
        log.info("broker_requeued", count=len(held))
        return len(held)


def _task_id(data: bytes, broker: RedisStreamBroker) -> str | None:
    try:
        return broker.formatter.loads(data).task_id
    except Exception:  # not a taskiq message: the receiver will reject it
        return None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
