"""PixErase's OTLP span encoder against the OpenTelemetry library's: the same request
message for every kind of span PixErase records, and for the ones it hands back."""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from pix_erase.platform.observability.otlp import encode_request


def recorded_spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    resource = Resource.create({"service.name": "PixErase", "pix_erase.role": "api"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    http = provider.get_tracer("pix_erase.http")
    sql = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", "1.0", "https://s")
    remote = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, True, TraceFlags(1))
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    with http.start_as_current_span(
        "GET /api/v1/images/{image_id}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "url.path": "/api/v1/images/é"},
    ) as request:
        request.set_attribute("http.response.status_code", 200)
        sql.start_span(
            "SELECT",
            kind=SpanKind.CLIENT,
            start_time=1_700_000_000_000_000_000,
            attributes={"db.system": "sqlite", "db.statement": "SELECT 1", "n": -3, "f": 0.5},
        ).end(end_time=1_700_000_000_000_400_000)
        failed = http.start_span("INSERT", attributes={"ok": False, "yes": True, "big": 2**40})
        failed.set_status(Status(StatusCode.ERROR, "constraint failed"))
        failed.end()
        with_event = http.start_span("task pix_erase.run_task", kind=SpanKind.CONSUMER)
        with_event.record_exception(ValueError("bad"))  # an event: the library's encoder
        with_event.end()
        http.start_span("arrays", attributes={"steps": ("rotate", "encode")}).end()
        http.start_span("linked", links=[Link(remote, {"why": "batch"})]).end()
        ok = http.start_span("ok", kind=SpanKind.PRODUCER)
        ok.set_status(Status(StatusCode.OK))
        ok.end()
    http.start_span("a root span, no parent").end()
    return list(exporter.get_finished_spans())


def test_the_request_is_the_librarys_message() -> None:
    spans = recorded_spans()
    expected = encode_spans(spans)
    got = ExportTraceServiceRequest.FromString(encode_request(spans))
    assert got == expected
    # Both groupings are there: one resource, two scopes (SQL's ended first), every span.
    assert len(got.resource_spans) == 1
    assert [len(s.spans) for s in got.resource_spans[0].scope_spans] == [1, 7]


def test_an_empty_batch_is_an_empty_request() -> None:
    assert encode_request([]) == b""
