"""A real OTLP/gRPC trace receiver for tests: implements TraceService/Export and keeps
every span it is sent (the same protocol Tempo speaks on 4317)."""

import threading
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2 as span_pb2


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    role: str
    kind: str = ""  # SPAN_KIND_SERVER, SPAN_KIND_CLIENT, ...
    status: str = ""  # STATUS_CODE_UNSET, STATUS_CODE_OK, STATUS_CODE_ERROR
    # string and integer attributes (the only types PixErase's own spans set)
    attributes: dict[str, str | int] = field(default_factory=dict, compare=False, hash=False)
    # each event's name and string/integer attributes (an `exception` event, for example)
    events: list[tuple[str, dict[str, str | int]]] = field(
        default_factory=list, compare=False, hash=False
    )


def _value(value: common_pb2.AnyValue) -> str | int:
    return value.int_value if value.WhichOneof("value") == "int_value" else value.string_value


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.ServicerContext,
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            service=attributes.get("service.name", ""),
                            role=attributes.get("pix_erase.role", ""),
                            kind=span_pb2.Span.SpanKind.Name(span.kind),
                            status=span_pb2.Status.StatusCode.Name(span.status.code),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            events=[
                                (e.name, {a.key: _value(a.value) for a in e.attributes})
                                for e in span.events
                            ],
                        )
                    )
        with self.lock:
            self.spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    def __init__(self) -> None:
        self._service = _TraceService()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            self._service, self._server
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def spans(self) -> list[ReceivedSpan]:
        with self._service.lock:
            return list(self._service.spans)

    def close(self) -> None:
        self._server.stop(grace=1).wait()
