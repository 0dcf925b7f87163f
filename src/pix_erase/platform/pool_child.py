"""The side of the process pool that runs inside a pool process.

A pool process serves one connection (a pipe to its parent): it receives a job, runs it,
and sends back progress messages and then the outcome. It ignores SIGINT and SIGTERM:
a terminal's Ctrl-C or `docker stop` reaches the whole process group, and it is the
parent that decides whether a job finishes, is cancelled or is re-queued — a job must
never die of a signal meant for its parent.
"""

import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from pix_erase.processing.phases import collect

PROGRESS = "progress"
DONE = "done"
FAILED = "failed"

_connection: Connection | None = None


def ignore_stop_signals() -> None:
    """Leave SIGINT and SIGTERM to the parent (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def report_progress(fraction: float) -> None:
    """Called inside a pool process by the running job; a no-op outside the pool."""
    if _connection is not None:
        _connection.send((PROGRESS, fraction))


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
            connection.send(outcome)
        except Exception as exc:  # e.g. an exception that does not pickle
            connection.send((FAILED, RuntimeError(f"{type(exc).__name__}: {exc}"), []))
