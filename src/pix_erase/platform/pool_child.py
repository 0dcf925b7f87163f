"""The side of the process pool that runs inside a pool process.

A pool process serves one connection (a pipe to its parent): it receives a job, runs it,
and sends back progress messages and then the outcome. It ignores SIGINT and SIGTERM:
a terminal's Ctrl-C or `docker stop` reaches the whole process group, and it is the
parent that decides whether a job finishes, is cancelled or is re-queued — a job must
never die of a signal meant for its parent.
"""

import os
import signal
import struct
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from pix_erase.platform.startup import POOL_HEAP_KEPT, keep_freed_memory
from pix_erase.processing.phases import collect

PROGRESS = "progress"
DONE = "done"
FAILED = "failed"

_connection: Connection | None = None


def ignore_stop_signals() -> None:
    """Leave SIGINT and SIGTERM to the parent (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def frame(message: Any) -> bytes:
    """A message as `Connection.recv` reads it, in one piece: one write, one wake-up of
    the reader (`Connection.send` writes a large message's length and body apart)."""
    payload = ForkingPickler.dumps(message)
    size = len(payload)
    header = struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)
    return header + payload


def _send(connection: Connection, message: Any) -> None:
    data = memoryview(frame(message))
    while data:
        data = data[os.write(connection.fileno(), data) :]


def report_progress(fraction: float) -> None:
    """Called inside a pool process by the running job; a no-op outside the pool."""
    if _connection is not None:
        _send(_connection, (PROGRESS, fraction))


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        with collect() as phases:
            return (DONE, fn(*args, **kwargs), phases)
    except Exception as exc:
        return (FAILED, exc, [])


def serve(connection: Connection) -> None:
    """The main function of a pool process: run jobs until the parent says stop."""
    global _connection
    ignore_stop_signals()
    keep_freed_memory(POOL_HEAP_KEPT)
    import pix_erase.processing  # noqa: F401  (already loaded by the fork server)

    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args, kwargs = job
        _connection = connection
        try:
            outcome = _outcome(fn, args, kwargs)
        finally:
            _connection = None
        try:
            _send(connection, outcome)
        except Exception as exc:  # e.g. an exception that does not pickle
            _send(connection, (FAILED, RuntimeError(f"{type(exc).__name__}: {exc}"), []))
