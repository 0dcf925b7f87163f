"""SQL spans as a `pix-erase` process records them, received by a real OTLP/gRPC receiver:
one per statement (an executemany and a statement run without parameters included), named
by its first word, child of the current span, the error on a failed statement, a root
span outside any trace."""

import subprocess
import sys
import time
from pathlib import Path

from tests.otlp import OtlpReceiver, ReceivedSpan

SCRIPT = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from pix_erase.platform.observability.tracing import (
    instrument_engine, setup_tracing, shutdown_tracing,
)
from pix_erase.setup.config import ObservabilitySettings

settings = ObservabilitySettings(
    traces_enabled=True, tempo_host="127.0.0.1", tempo_grpc_port=int(sys.argv[1])
)
tracer = setup_tracing(settings, role="api").get_tracer("test")

async def main() -> None:
    engine = create_async_engine("sqlite+aiosqlite:///" + sys.argv[2])
    instrument_engine(engine)
    async with engine.connect() as connection:
        with tracer.start_as_current_span("GET /api/v1/images/{image_id}"):
            await connection.execute(text("SELECT 1"))
            await connection.execute(text("  select 2 -- lower case, leading blanks"))
            await connection.execute(text("CREATE TABLE t (x)"))
            rows = [{"x": 1}, {"x": 2}, {"x": 3}]
            await connection.execute(text("INSERT INTO t VALUES (:x)"), rows)  # executemany
            await connection.execute(
                text("SELECT x FROM t"), execution_options={"no_parameters": True}
            )
            try:
                await connection.execute(text("SELECT * FROM no_such_table"))
            except Exception:
                pass
        await connection.execute(text("SELECT 3"))  # outside any span
    await engine.dispose()

asyncio.run(main())
shutdown_tracing()
"""


def test_one_span_per_statement(tmp_path: Path) -> None:
    receiver = OtlpReceiver()
    try:
        database = tmp_path / "spans.db"
        args = [sys.executable, "-c", SCRIPT, str(receiver.port), str(database)]
        subprocess.run(args, check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 10
        while len(receiver.spans()) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)
        spans = receiver.spans()
    finally:
        receiver.close()
    request = next(s for s in spans if s.name.startswith("GET "))
    sql = [s for s in spans if s is not request]
    statements = {str(s.attributes["db.statement"]): s for s in sql}
    assert len(sql) == len(statements) == 7

    def check(span: ReceivedSpan, name: str, status: str = "STATUS_CODE_UNSET") -> None:
        assert (span.name, span.kind, span.status) == (name, "SPAN_KIND_CLIENT", status)
        assert span.attributes["db.system"] == "sqlite"
        assert span.attributes["db.name"] == str(database)
        assert (span.role, span.service) == ("api", "PixErase")

    inside_request = (
        "SELECT 1",
        "  select 2 -- lower case, leading blanks",
        "CREATE TABLE t (x)",
        "INSERT INTO t VALUES (?)",  # three rows in one executemany: one span
        "SELECT x FROM t",  # run without parameters
    )
    for statement in inside_request:
        inside = statements[statement]
        check(inside, statement.split()[0])
        assert (inside.trace_id, inside.parent_span_id) == (request.trace_id, request.span_id)
    failed = statements["SELECT * FROM no_such_table"]
    check(failed, "SELECT", "STATUS_CODE_ERROR")
    assert failed.parent_span_id == request.span_id
    outside = statements["SELECT 3"]
    check(outside, "SELECT")
    assert outside.parent_span_id == ""
    assert outside.trace_id != request.trace_id
