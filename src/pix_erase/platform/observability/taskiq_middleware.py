"""The taskiq middleware: one trace from request to task, and the task metrics.

On the sending side it writes the current trace context (W3C `traceparent`) into the
message labels; on the worker side it continues that trace in a `task <name>` span,
counts the outcome and times the run (exemplar: the trace id). A task that runs but
records a failed outcome (the function returns "failed") counts as `error`.
"""

import time
from dataclasses import dataclass
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import Span, Status, StatusCode
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from pix_erase.platform.observability.metrics import TASK_DURATION, TASKS, trace_exemplar
from pix_erase.platform.observability.tracing import extract_context, inject_context, tracer

FAILED = "failed"


@dataclass
class _Running:
    span: Span
    token: object
    started: float


class ObservabilityMiddleware(TaskiqMiddleware):
    def __init__(self, app_name: str) -> None:
        super().__init__()
        self.app_name = app_name
        self._running: dict[str, _Running] = {}

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        carrier: dict[str, str] = {}
        inject_context(carrier)
        message.labels.update(carrier)
        return message

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        parent = extract_context({k: str(v) for k, v in message.labels.items()})
        span = tracer.start_span(
            f"task {message.task_name}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={"taskiq.task_name": message.task_name, "taskiq.task_id": message.task_id},
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        self._running[message.task_id] = _Running(span, token, time.perf_counter())
        return message

    def _finish(self, message: TaskiqMessage, failed: bool, error: BaseException | None) -> None:
        running = self._running.pop(message.task_id, None)
        if running is None:
            return
        elapsed = time.perf_counter() - running.started
        status = "error" if failed else "success"
        TASKS.labels(self.app_name, message.task_name, status).inc()
        TASK_DURATION.labels(self.app_name, message.task_name).observe(
            elapsed, exemplar=trace_exemplar()
        )
        if error is not None:
            running.span.record_exception(error)
        if failed:
            running.span.set_status(Status(StatusCode.ERROR))
        running.span.end()
        context.detach(running.token)  # type: ignore[arg-type]

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        failed = result.is_err or result.return_value == FAILED
        self._finish(message, failed, None)

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        self._finish(message, True, exception)
