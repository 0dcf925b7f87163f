"""The OTLP/gRPC span exporter, with the request written in protobuf's wire format here.

The OpenTelemetry exporter builds a protobuf message object per span, per attribute and
per attribute value before serialising them: about 25-35 µs of CPU per span, spent in
the export thread for every span PixErase records. Here a span's bytes are written
directly (its ids, name, kind, times, flat attributes, status and flags), the resource
and instrumentation scope once per batch, and the result parsed back into the request
message the gRPC stub sends (protobuf's C parser: about 1 µs per span). Spans with
events, links, a trace state or array attributes (an exception recorded on a span, for
example) are rare and take the library's own encoder, so what the collector receives is
the same message either way; the exporter's retries, timeout and TLS are the library's.
"""

import struct
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _SPAN_KIND_MAP,
    _encode_span,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan

# Span.flags: the parent's remoteness is known (0x100), and it is remote (0x200).
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE)
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)
_KIND = {kind: b"\x30" + bytes((value,)) for kind, value in _SPAN_KIND_MAP.items()}


_SMALL = [bytes((n,)) for n in range(0x80)]
# Encoded attributes and span names, which repeat from span to span (the SQL statements,
# the route templates, the method...); emptied when full, so they stay small.
_CACHE_SIZE = 4096
_attributes: dict[tuple[str, type, Any], bytes] = {}
_names: dict[str, bytes] = {}


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64  # int64 as protobuf writes it: ten bytes, two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    size = len(payload)
    return tag + (_SMALL[size] if size < 0x80 else _varint(size)) + payload


def _value(value: Any) -> bytes | None:
    """An AnyValue's bytes, or None for a type left to the library (arrays, bytes...)."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    return None


def _attribute(key: str, value: Any) -> bytes | None:
    """A span's attribute field (a KeyValue), or None for a type left to the library."""
    cache_key = (key, type(value), value)
    found = _attributes.get(cache_key)
    if found is None:
        encoded = _value(value)
        if encoded is None:
            return None
        found = _field(b"\x4a", _field(b"\x0a", key.encode()) + _field(b"\x12", encoded))
        if len(_attributes) >= _CACHE_SIZE:
            _attributes.clear()
        _attributes[cache_key] = found
    return found


def _name(name: str) -> bytes:
    found = _names.get(name)
    if found is None:
        found = _field(b"\x2a", name.encode())
        if len(_names) >= _CACHE_SIZE:
            _names.clear()
        _names[name] = found
    return found


def _library(span: ReadableSpan) -> bytes:
    encoded: bytes = _encode_span(span).SerializeToString()
    return encoded


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    if context is None or span.events or span.links or len(context.trace_state):
        return _library(span)
    parent = span.parent
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
        _name(span.name),
        _KIND[span.kind],
        b"\x39" + _FIXED64.pack(span.start_time or 0),
        b"\x41" + _FIXED64.pack(span.end_time or 0),
    ]
    for key, value in (span.attributes or {}).items():
        encoded = _attribute(key, value)
        if encoded is None:
            return _library(span)
        parts.append(encoded)
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    status = span.status
    if status.description:
        message = _field(b"\x12", status.description.encode())
        parts.append(_field(b"\x7a", message + b"\x18" + _varint(status.status_code.value)))
    elif status.status_code.value:
        parts.append(b"\x7a\x02\x18" + _SMALL[status.status_code.value])
    else:
        parts.append(b"\x7a\x00")
    parts.append(_FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
    return b"".join(parts)


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    """ExportTraceServiceRequest's bytes: spans grouped by resource, then by scope, in the
    order they come. Grouped by identity: a tracer provider's spans share its resource
    and a tracer's its scope (comparing them by value would serialise them per span)."""
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        by_scope = grouped.setdefault(id(resource), (resource, {}))[1]
        by_scope.setdefault(id(scope), (scope, []))[1].append(_span(span))
    request = []
    for resource, by_scope in grouped.values():
        body = [_field(b"\x0a", _encode_resource(resource).SerializeToString())]
        for scope, encoded in by_scope.values():
            scope_bytes = _encode_instrumentation_scope(scope).SerializeToString()
            scope_spans = [_field(b"\x0a", scope_bytes)]
            scope_spans += [_field(b"\x12", one) for one in encoded]
            if scope is not None and scope.schema_url:
                scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))
            body.append(_field(b"\x12", b"".join(scope_spans)))
        if resource.schema_url:
            body.append(_field(b"\x1a", resource.schema_url.encode()))
        request.append(_field(b"\x0a", b"".join(body)))
    return b"".join(request)


class SpanExporter(OTLPSpanExporter):
    """OTLPSpanExporter with the request written by `encode_request`."""

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(
            encode_request(data)
        )
        return request
