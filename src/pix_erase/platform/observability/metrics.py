"""The Prometheus metric families of the API and the worker, and their exposition.

Families live in prometheus_client's default registry, one per process; `app_name` is a
label so one Prometheus can tell several deployments apart. Histogram buckets reach
120 s so slow image work never pins a quantile to the top bucket.
"""

from opentelemetry import trace
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)

REQUESTS = Counter(
    "fastapi_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["app_name", "method", "path", "status_code"],
)
REQUEST_DURATION = Histogram(
    "fastapi_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["app_name", "method", "path"],
    buckets=BUCKETS,
)
EXCEPTIONS = Counter(
    "fastapi_exceptions_total",
    "Requests that ended in an unhandled exception, by exception type.",
    ["app_name", "method", "path", "exception_type"],
)
IN_PROGRESS = Gauge(
    "fastapi_requests_in_progress",
    "HTTP requests being answered now.",
    ["app_name", "method", "path"],
    multiprocess_mode="livesum",
)
APP_INFO = Gauge("fastapi_app_info", "Information about the API process.", ["app_name"])

TASKS = Counter(
    "taskiq_tasks_total",
    "Tasks run by the worker, by task name and outcome (success or error).",
    ["app_name", "task_name", "status"],
)
TASK_DURATION = Histogram(
    "taskiq_tasks_duration_seconds",
    "Time to run a task, by task name.",
    ["app_name", "task_name"],
    buckets=BUCKETS,
)
WORKER_INFO = Gauge("taskiq_worker_info", "Information about the worker process.", ["app_name"])


def trace_exemplar() -> dict[str, str] | None:
    """The current trace id as an exemplar, if a sampled trace is being recorded."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid and context.trace_flags.sampled:
        return {"trace_id": format(context.trace_id, "032x")}
    return None


def exposition(accept: str | None) -> tuple[bytes, str]:
    """Render every family; OpenMetrics (which keeps exemplars) when the scraper asks."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type
