"""Request spans as a `pix-erase` process records them, received by a real OTLP/gRPC
receiver: what the span carries for a request that succeeds, one that fails with an
exception, one the client's `traceparent` marks as not sampled (no span at all, for the
request or its SQL statements, but the trace id still in its log line), and one outside
any client trace when the operator samples a share of traces."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.otlp import OtlpReceiver, ReceivedSpan

SCRIPT = """
import asyncio, os, sys
import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from pix_erase.platform.observability.http import RequestObserver, RouteTable
from pix_erase.platform.observability.logging import configure_logging
from pix_erase.platform.observability.tracing import (
    HTTP_SCOPE, instrument_engine, setup_tracing, shutdown_tracing,
)
from pix_erase.setup.config import ObservabilitySettings

settings = ObservabilitySettings(
    traces_enabled=True, tempo_host="127.0.0.1", tempo_grpc_port=int(sys.argv[1])
)
provider = setup_tracing(settings, role="api")
configure_logging("INFO")
engine = create_async_engine("sqlite+aiosqlite:///" + sys.argv[2])
instrument_engine(engine)
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"id": item_id}

@app.get("/broken")
async def broken() -> None:
    raise RuntimeError("the disk is on fire")

observed = RequestObserver(
    app, "PixErase", RouteTable(app.routes), tracer=provider.get_tracer(HTTP_SCOPE)
)

async def main() -> None:
    transport = httpx.ASGITransport(app=observed, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for header in sys.argv[3:]:
            headers = {"traceparent": header} if header != "-" else {}
            await client.get("/items/7", headers=headers)
        await client.get("/broken")
    await engine.dispose()

asyncio.run(main())
shutdown_tracing()
"""

SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
NOT_SAMPLED = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00"


def run(
    tmp_path: Path, expect: int, *traceparents: str, **env: str
) -> tuple[list[ReceivedSpan], list[dict[str, str]]]:
    """The `expect` spans received and the access lines written by the script, given the
    traceparents of its requests to /items/7 ("-" for none); then it calls /broken."""
    receiver = OtlpReceiver()
    try:
        args = [sys.executable, "-c", SCRIPT, str(receiver.port), str(tmp_path / "db")]
        environment = {**os.environ, **env}
        done = subprocess.run(
            [*args, *traceparents],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
        )
        deadline = time.monotonic() + 10
        while len(receiver.spans()) < expect:
            assert time.monotonic() < deadline, done.stdout + done.stderr
            time.sleep(0.1)
        spans = receiver.spans()
    finally:
        receiver.close()
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return spans, [line for line in lines if line.get("event") == "request"]


def test_request_spans_carry_the_request_and_its_outcome(tmp_path: Path) -> None:
    spans, lines = run(tmp_path, 5, SAMPLED, "-")
    items = [s for s in spans if s.name == "GET /items/{item_id}"]
    assert len(items) == 2
    chained, own = sorted(items, key=lambda s: s.trace_id != SAMPLED.split("-")[1])
    assert (chained.trace_id, chained.parent_span_id) == (SAMPLED.split("-")[1], "b7ad6b7169203331")
    assert own.parent_span_id == ""
    assert own.trace_id != chained.trace_id
    for span in items:
        assert (span.kind, span.status, span.service, span.role) == (
            "SPAN_KIND_SERVER",
            "STATUS_CODE_UNSET",
            "PixErase",
            "api",
        )
        assert span.attributes == {
            "http.request.method": "GET",
            "http.route": "/items/{item_id}",
            "url.path": "/items/7",
            "url.scheme": "http",
            "client.address": "127.0.0.1",
            "http.response.status_code": 200,
        }
        assert span.events == []
        statement = next(s for s in spans if s.name == "SELECT" and s.trace_id == span.trace_id)
        assert statement.parent_span_id == span.span_id

    broken = next(s for s in spans if s.name == "GET /broken")
    assert broken.status == "STATUS_CODE_ERROR"
    assert broken.attributes["http.response.status_code"] == 500
    assert broken.attributes["error.type"] == "RuntimeError"
    [(name, attributes)] = broken.events
    assert name == "exception"
    assert attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "the disk is on fire"
    stacktrace = str(attributes["exception.stacktrace"])
    assert stacktrace.startswith("Traceback")
    assert "in broken\nRuntimeError: the disk is on fire" in stacktrace
    # Each access line carries the trace and span ids of its request's span.
    ids = {(line["trace_id"], line["span_id"]) for line in lines}
    assert ids == {(s.trace_id, s.span_id) for s in [*items, broken]}


def test_a_trace_the_client_did_not_sample_records_nothing(tmp_path: Path) -> None:
    spans, lines = run(tmp_path, 1, NOT_SAMPLED, NOT_SAMPLED)
    trace_id = NOT_SAMPLED.split("-")[1]
    assert not [s for s in spans if s.trace_id == trace_id]  # no request span, no SELECT
    assert [s.name for s in spans] == ["GET /broken"]
    # The log lines still tie the request to the client's trace.
    assert [line["trace_id"] for line in lines[:2]] == [trace_id, trace_id]


def test_the_operator_can_sample_a_share_of_traces(tmp_path: Path) -> None:
    sampler = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    spans, lines = run(tmp_path, 2, SAMPLED, "-", "-", **sampler)
    # None of the requests that started a trace here is recorded (ratio 0, the failing
    # request's included); a client's sampled trace still is, with its statement.
    assert sorted(s.name for s in spans) == ["GET /items/{item_id}", "SELECT"]
    assert all(s.trace_id == SAMPLED.split("-")[1] for s in spans)
    assert len(lines) == 4
