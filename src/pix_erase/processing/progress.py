"""Progress of a job: the callback type, and a reporter that keeps its promises.

A job reports fractions of its work done; the callback may cross a process boundary
(the worker's pool), so the reporter sends each increase once and exactly 1.0 at the end.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float], None]


class Progress:
    """Reports increasing fractions, each at most once, and exactly 1.0 at the end."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 0.999)
        if self._callback is not None and fraction > self._last + 1e-4:
            self._last = fraction
            self._callback(fraction)

    def span(self, start: float, end: float) -> ProgressCallback:
        """A callback taking 0..1 for one part of the job, reported as start..end."""
        return lambda fraction: self(start + (end - start) * min(max(fraction, 0.0), 1.0))

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(1.0)
