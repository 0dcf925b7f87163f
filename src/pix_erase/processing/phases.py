"""Wall-clock timings of a job's phases (decode, each step, encode).

Pure bookkeeping, no I/O: `collect()` gathers the (name, start_ns, end_ns) of every
`phase()` run inside it, and the caller (the worker) turns them into trace spans.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Phase = tuple[str, int, int]

_phases: ContextVar[list[Phase] | None] = ContextVar("pix_erase_phases", default=None)


@contextmanager
def phase(name: str) -> Iterator[None]:
    start = time.time_ns()
    try:
        yield
    finally:
        phases = _phases.get()
        if phases is not None:
            phases.append((name, start, time.time_ns()))


@contextmanager
def collect() -> Iterator[list[Phase]]:
    phases: list[Phase] = []
    token = _phases.set(phases)
    try:
        yield phases
    finally:
        _phases.reset(token)
