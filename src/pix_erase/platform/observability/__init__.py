"""Metrics, logs and traces: what docs/observability.md promises, made true.

- `metrics`: the Prometheus families and the /metrics exposition (OpenMetrics on request).
- `http`: the pure-ASGI middleware that traces, counts, times and logs every request.
- `tasks`: the taskiq middleware that carries the trace into tasks and times them.
- `tracing`: the OpenTelemetry SDK, exporters, library instrumentation, and the request
  and SQL spans recorded without the SDK's span object.
- `otlp`: the OTLP/gRPC span exporter, writing its requests' protobuf bytes itself.
- `logging`: one JSON object per line on stdout, with the current trace and span ids.
"""
