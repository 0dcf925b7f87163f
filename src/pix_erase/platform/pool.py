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
"""

import asyncio
import contextvars
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, ParamSpec, TypeVar

import structlog

from pix_erase.platform.observability.tracing import record_phases
from pix_erase.platform.pool_child import DONE, PROGRESS, report_progress, serve
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


@dataclass(eq=False)  # identity: a process is itself, whatever its fields
class _Process:
    process: BaseProcess
    connection: Connection


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
        # Each running job has one thread waiting on its pipe; a pool of its own so those
        # never starve the default executor (storage I/O, uploads).
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
        item.connection.close()

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

    def _converse(
        self,
        item: _Process,
        job: tuple[Any, ...],
        on_progress: Callable[[float], None] | None,
    ) -> Any:
        """In a thread: send the job, pass on its progress, return its outcome."""
        try:
            item.connection.send(job)
            while True:
                ready = wait([item.connection, item.process.sentinel])
                if item.connection not in ready:
                    raise PoolProcessDied(f"pool process exited with {item.process.exitcode}")
                message = item.connection.recv()
                if message[0] != PROGRESS:
                    return message
                if on_progress is not None:
                    on_progress(message[1])
        except (EOFError, OSError) as exc:
            raise PoolProcessDied(f"pool process stopped: {exc!r}") from exc

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
        loop = asyncio.get_running_loop()
        forward = None
        if on_progress is not None:
            callback = on_progress

            def forward(fraction: float) -> None:
                loop.call_soon_threadsafe(callback, fraction)

        async with self._slots:
            item = await self._take()
            healthy = False
            try:
                outcome, value, phases = await loop.run_in_executor(
                    self._threads, self._converse, item, (fn, args, kwargs), forward
                )
                healthy = True
            finally:
                with self._lock:
                    self._busy.discard(item)
                    if healthy and not self._closed:
                        self._idle.append(item)
                if not healthy:
                    # Cancelled or dead: the process may be mid-job; it goes.
                    await loop.run_in_executor(None, self._kill, item)
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
            item.connection.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
