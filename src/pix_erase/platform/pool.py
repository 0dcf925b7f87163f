"""The process pool that runs CPU-bound image work off the event loop.

Functions sent here are pure (`pix_erase.processing`), so they pickle and need no
service. Progress travels back through one multiprocessing queue: a pool process calls
`report_progress(fraction)`, and a reader thread in the parent hands it to the callback
of the job that asked for it, on that job's event loop.
"""

import asyncio
import itertools
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.queues import Queue
from typing import Any, ParamSpec, TypeVar

from pix_erase.platform.observability.tracing import record_phases
from pix_erase.processing.phases import Phase, collect
from pix_erase.processing.progress import ProgressCallback

P = ParamSpec("P")
R = TypeVar("R")

ProgressItem = tuple[int, float] | None  # None tells the reader thread to stop

_progress_queue: "Queue[ProgressItem] | None" = None
_current_job: int | None = None


def _init_process(progress_queue: "Queue[ProgressItem]") -> None:
    global _progress_queue
    _progress_queue = progress_queue
    # Import the heavy libraries once per process, not in the first job.
    import pix_erase.processing  # noqa: F401


def report_progress(fraction: float) -> None:
    """Called inside a pool process by the running job; a no-op outside the pool."""
    if _progress_queue is not None and _current_job is not None:
        _progress_queue.put((_current_job, fraction))


def _run_job(
    job: int, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[R, list[Phase]]:
    global _current_job
    _current_job = job
    try:
        with collect() as phases:
            return fn(*args, **kwargs), phases
    finally:
        _current_job = None


class ProcessPool:
    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or max(1, min(4, os.cpu_count() or 1))
        # forkserver: forking a process that runs an event loop and threads is unsafe.
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["pix_erase.processing"])
        self._queue: Queue[ProgressItem] = self._ctx.Queue()
        self._executor = self._new_executor()
        self._jobs = itertools.count(1)
        self._listeners: dict[int, tuple[asyncio.AbstractEventLoop, ProgressCallback]] = {}
        self._reader = threading.Thread(target=self._read_progress, daemon=True)
        self._reader.start()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.processes, mp_context=self._ctx, initializer=_init_process, initargs=(self._queue,)
        )

    def _replace_broken_executor(self) -> None:
        """A pool process died (e.g. killed for memory): the executor is unusable from
        then on, so later jobs get a fresh one."""
        broken, self._executor = self._executor, self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def _read_progress(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError, ValueError):
                return
            if item is None:
                return
            job, fraction = item
            listener = self._listeners.get(job)
            if listener is not None:
                loop, callback = listener
                loop.call_soon_threadsafe(callback, fraction)

    async def run(
        self,
        fn: Callable[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        return await self.run_with_progress(None, fn, *args, **kwargs)

    async def run_with_progress(
        self,
        on_progress: ProgressCallback | None,
        fn: Callable[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        job = next(self._jobs)
        loop = asyncio.get_running_loop()
        if on_progress is not None:
            self._listeners[job] = (loop, on_progress)
        try:
            result, phases = await loop.run_in_executor(
                self._executor, _run_job, job, fn, args, kwargs
            )
        except BrokenProcessPool:
            self._replace_broken_executor()
            raise
        finally:
            self._listeners.pop(job, None)
        record_phases(phases)  # decode / steps / encode become spans of the current trace
        return result

    def close(self, *, wait: bool = True) -> None:
        """Stop the pool; with `wait=False`, jobs still running are killed (their tasks
        were re-queued by the caller)."""
        if not wait:
            # Python 3.11 has no public way to stop busy pool processes.
            for process in list(getattr(self._executor, "_processes", {}).values()):
                process.kill()
        self._executor.shutdown(wait=wait, cancel_futures=True)
        self._queue.put(None)
        self._reader.join(timeout=2)
        self._queue.close()
