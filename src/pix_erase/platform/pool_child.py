"""The side of the process pool that runs inside a pool process.

A pool process serves one connection (a pipe to its parent): it receives a job, runs it,
and sends back progress messages and then the outcome. It ignores SIGINT and SIGTERM:
a terminal's Ctrl-C or `docker stop` reaches the whole process group, and it is the
parent that decides whether a job finishes, is cancelled or is re-queued — a job must
never die of a signal meant for its parent.
"""

import ctypes
import os
import signal
import struct
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from pix_erase.processing.phases import collect

PROGRESS = "progress"
DONE = "done"
FAILED = "failed"

_connection: Connection | None = None

# glibc's mallopt parameters, and the values a pool process runs with (see keep_freed_memory).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_FROM = 64 << 20  # blocks up to this size come from the heap, not a mapping of their own
HEAP_KEPT = 128 << 20  # freed memory at the top of the heap kept for the next job
# Where an operator tunes glibc's malloc themselves; their setting wins.
_MALLOC_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def ignore_stop_signals() -> None:
    """Leave SIGINT and SIGTERM to the parent (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def keep_freed_memory() -> None:
    """Keep a job's freed buffers for the next job instead of giving them back to the kernel.

    glibc's malloc unmaps a freed block larger than its mmap threshold at once (32 MB at
    most, unless set) and trims the top of its heap when more than its trim threshold is
    free there, so the next job faults every page of its buffers in again. A pool process
    runs jobs of similar sizes one after another, and each paid for it: a 12 MP rotate took
    about 11,700 page faults and 29-66 ms of system time of its 125-157 ms of CPU; with
    these thresholds, none after the first job and 98 ms. A pool process keeps up to
    HEAP_KEPT of freed memory; blocks above HEAP_FROM (a 24 MP RGB image and larger) are
    still unmapped when freed. `mallopt` is glibc's (no library wraps it); it is called
    through ctypes, and not at all without glibc or where the environment tunes glibc's
    malloc already.
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." in tunables or any(name in os.environ for name in _MALLOC_VARIABLES):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, HEAP_FROM)
    mallopt(_M_TRIM_THRESHOLD, HEAP_KEPT)


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
    keep_freed_memory()
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
