"""The process pool that runs CPU-bound image work off the event loop.

Functions sent here are pure (`pix_erase.processing`), so they pickle and need no
service. Each pool process has a pipe of its own to the parent, so the parent always
knows which process runs which job, and can stop one job without disturbing the others:
when the coroutine awaiting a job is cancelled (a time limit passed, the user cancelled
the task, the worker is stopping) the process running it is killed and a fresh one takes
its place at the next job. Progress comes back over the same pipe: a job calls
`report_progress(fraction)` and the parent hands it to that job's callback.

Pool processes (and the fork server that starts them) ignore SIGINT and SIGTERM: a
signal sent to the service's process group is for the service, which decides what
happens to the jobs (see `pool_child`).

The parent talks over the pipe (a socket pair) on the event loop, through asyncio
streams: no thread is woken per job, and a large source or result is written and read
without blocking the loop. Both sides speak `multiprocessing.connection.Connection`'s
framing (a 4-byte big-endian signed length, or -1 and an 8-byte length for messages over
2 GiB, then the pickle): the child reads with a `Connection`, and each side writes a
message in one piece (`pool_child.frame`), so the other wakes once for it.
"""

import asyncio
import contextvars
import multiprocessing
import os
import pickle
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, ParamSpec, TypeVar

import structlog

from pix_erase.platform.observability.tracing import record_phases
from pix_erase.platform.pool_child import DONE, PROGRESS, frame, report_progress, serve
from pix_erase.processing.progress import ProgressCallback

P = ParamSpec("P")
R = TypeVar("R")

log = structlog.get_logger(__name__)

__all__ = ["PoolProcessDied", "ProcessPool", "report_progress"]


# Called after each job that the current context (one task) sent here has ended: the
# worker then takes its next task while this one stores its result.
after_job: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "after_job", default=None
)


class PoolProcessDied(RuntimeError):
    """The process running a job died (killed for memory, crashed) before answering."""


_STREAM_LIMIT = 64 * 1024 * 1024  # read big results without pausing the socket


@dataclass(eq=False)  # identity: a process is itself, whatever its fields
class _Process:
    process: BaseProcess
    connection: Connection
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The pipe as asyncio streams on the running loop (made once per loop)."""
        loop = asyncio.get_running_loop()
        if self.streams is None or self.loop is not loop:
            sock = socket.socket(fileno=os.dup(self.connection.fileno()))
            self.streams = await asyncio.open_unix_connection(sock=sock, limit=_STREAM_LIMIT)
            self.loop = loop
        return self.streams

    def close(self) -> None:
        """Close the pipe; on the loop that reads it (asyncio transports are not
        thread-safe), or after that loop has ended."""
        if self.streams is not None:
            if self.loop is not None and not self.loop.is_closed():
                self.streams[1].transport.abort()
            self.streams = None
        self.connection.close()


async def _send(writer: asyncio.StreamWriter, message: Any) -> None:
    writer.write(frame(message))
    await writer.drain()


async def _receive(reader: asyncio.StreamReader) -> Any:
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    if size == -1:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    # The pool's own process, trusted as multiprocessing's own `recv` trusts it.
    return pickle.loads(await reader.readexactly(size))  # noqa: S301


class ProcessPool:
    def __init__(self, processes: int | None = None, *, name: str = "image") -> None:
        self.processes = processes or max(1, min(4, os.cpu_count() or 1))
        self.name = name
        # forkserver: forking a process that runs an event loop and threads is unsafe.
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["pix_erase.platform.pool_preload"])
        self._idle: list[_Process] = []
        self._busy: set[_Process] = set()
        self._lock = threading.Lock()
        self._slots = asyncio.Semaphore(self.processes)
        # Starting a process waits on the fork server: in threads of the pool's own, so
        # that never starves the default executor (storage I/O, uploads).
        self._threads = ThreadPoolExecutor(self.processes + 1, thread_name_prefix=f"pool-{name}")
        self._closed = False

    def pids(self) -> list[int]:
        """The pool's live processes (for tests and diagnostics)."""
        with self._lock:
            every = [*self._idle, *self._busy]
        return [item.process.pid for item in every if item.process.pid is not None]

    def _spawn(self) -> _Process:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=serve, args=(child,), name=f"pix-erase-{self.name}")
        process.daemon = True
        process.start()
        child.close()
        return _Process(process, parent)

    def _kill(self, item: _Process) -> None:
        item.process.kill()
        item.process.join(5)
        item.close()

    async def _take(self) -> _Process:
        with self._lock:
            item = self._idle.pop() if self._idle else None
        if item is None or not item.process.is_alive():
            if item is not None:
                self._kill(item)
            item = await asyncio.get_running_loop().run_in_executor(self._threads, self._spawn)
        with self._lock:
            self._busy.add(item)
        return item

    async def _converse(
        self,
        item: _Process,
        job: tuple[Any, ...],
        on_progress: Callable[[float], None] | None,
    ) -> Any:
        """Send the job, pass on its progress, return its outcome."""
        try:
            reader, writer = await item.open()
            await _send(writer, job)
            while True:
                message = await _receive(reader)
                if message[0] != PROGRESS:
                    return message
                if on_progress is not None:
                    on_progress(message[1])
        except (asyncio.IncompleteReadError, OSError) as exc:
            # It closed its end: it is gone or going; its exit code, when known soon.
            await asyncio.get_running_loop().run_in_executor(None, item.process.join, 1)
            raise PoolProcessDied(f"pool process exited with {item.process.exitcode}") from exc

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.run_with_progress(None, fn, *args, **kwargs)

    async def run_with_progress(
        self,
        on_progress: ProgressCallback | None,
        fn: Callable[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run `fn(*args, **kwargs)` in a pool process. Cancelling the caller kills that
        process (a fresh one replaces it); a process that dies raises `PoolProcessDied`."""
        if self._closed:
            raise PoolProcessDied("the process pool is closed")
        async with self._slots:
            item = await self._take()
            healthy = False
            try:
                outcome, value, phases = await self._converse(item, (fn, args, kwargs), on_progress)
                healthy = True
            finally:
                with self._lock:
                    self._busy.discard(item)
                    if healthy and not self._closed:
                        self._idle.append(item)
                if not healthy:
                    # Cancelled or dead: the process may be mid-job; it goes (reaped in a
                    # thread: joining a killed process can take a moment).
                    item.close()
                    await asyncio.get_running_loop().run_in_executor(None, self._kill, item)
                done = after_job.get()
                if done is not None:
                    done()
        if outcome != DONE:
            raise value
        record_phases(phases)  # decode / steps / encode become spans of the current trace
        result: R = value
        return result

    def close(self) -> None:
        """Stop the pool: idle processes are asked to exit, busy ones are killed (their
        callers have been cancelled or their tasks re-queued)."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for item in busy:
            item.process.kill()
        for item in idle:
            try:
                item.connection.send(None)
            except OSError:
                item.process.kill()
        for item in (*idle, *busy):
            item.process.join(5)
            if item.process.is_alive():
                item.process.kill()
                item.process.join(5)
            item.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
