"""OpenTelemetry: the tracer provider, the OTLP/gRPC exporter and library instrumentation.

Tracing is on when OTEL_TRACES_ENABLED is true (off by default in `serve`). Spans are
exported in a background thread with a short timeout, so a missing or slow collector
costs a request nothing and shutdown waits for it at most a few seconds.
"""

from collections.abc import Iterable, Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from pix_erase.setup.config import ObservabilitySettings

EXPORT_TIMEOUT_SECONDS = 3
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
    if _provider is not None:
        # The instrumentation declares sqlalchemy < 2.1 but works with 2.1's engine
        # events (tests/test_observability.py checks the spans arrive).
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


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
