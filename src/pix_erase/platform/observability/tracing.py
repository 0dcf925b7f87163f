"""OpenTelemetry: the tracer provider, the OTLP/gRPC exporter and library instrumentation.

Tracing is on when OTEL_TRACES_ENABLED is true (off by default in `serve`). Spans are
exported in a background thread with a short timeout, so a missing or slow collector
costs a request nothing and shutdown waits for it at most a few seconds.
"""

from collections.abc import Iterable, Mapping

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv.metrics import MetricInstruments
from sqlalchemy.ext.asyncio import AsyncEngine

from pix_erase.setup.config import ObservabilitySettings

EXPORT_TIMEOUT_SECONDS = 3
SQLALCHEMY_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
# Requests that explain no cost a user meets: probes and scrapes get no span.
UNTRACED_PATHS = "/health/live,/health/ready,/metrics"
tracer = trace.get_tracer("pix_erase")
_provider: TracerProvider | None = None


def setup_tracing(settings: ObservabilitySettings, role: str) -> TracerProvider | None:
    """Install the global tracer provider once per process; None when tracing is off."""
    global _provider
    if not settings.traces_enabled:
        return None
    if _provider is None:
        resource = Resource.create({SERVICE_NAME: settings.app_name, "pix_erase.role": role})
        provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(
            endpoint=settings.tempo_uri, insecure=True, timeout=EXPORT_TIMEOUT_SECONDS
        )
        provider.add_span_processor(
            BatchSpanProcessor(exporter, export_timeout_millis=EXPORT_TIMEOUT_SECONDS * 1000)
        )
        trace.set_tracer_provider(provider)
        RedisInstrumentor().instrument()
        AiobotocoreInstrumentor().instrument()  # type: ignore[no-untyped-call]
        _provider = provider
    return _provider


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per query. The instrumentor's `instrument()` would also wrap every
    `Engine.connect` in a span of its own, a cost that explains nothing; its engine
    tracer alone gives the query spans (tests/test_observability.py checks they arrive)."""
    if _provider is not None:
        tracer = trace.get_tracer(SQLALCHEMY_SCOPE, tracer_provider=_provider)
        usage = metrics.get_meter(SQLALCHEMY_SCOPE).create_up_down_counter(
            MetricInstruments.DB_CLIENT_CONNECTIONS_USAGE, unit="connections"
        )
        EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]


def shutdown_tracing() -> None:
    """Flush what is buffered (bounded by the export timeout) and stop exporting."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def inject_context(carrier: dict[str, str]) -> None:
    """Write the current trace context (W3C traceparent) into `carrier`."""
    propagate.inject(carrier)


def extract_context(carrier: Mapping[str, str]) -> context.Context:
    return propagate.extract(carrier)


def record_phases(phases: Iterable[tuple[str, int, int]]) -> None:
    """Turn (name, start_ns, end_ns) timings measured in a pool process into child spans
    of the current span: the pool process itself exports nothing."""
    for name, start_ns, end_ns in phases:
        span = tracer.start_span(name, start_time=start_ns)
        span.end(end_time=end_ns)
