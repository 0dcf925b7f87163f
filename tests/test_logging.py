"""The JSON lines of docs/observability.md, from a fresh process configured as `pix-erase`
configures itself: PixErase's own loggers and standard-library ones on one stream, one
level for both, trace ids inside a span."""

import json
import subprocess
import sys
from typing import Any

SCRIPT = """
import logging, sys
import structlog
from opentelemetry.sdk.trace import TracerProvider
from pix_erase.platform.observability.logging import configure_logging

configure_logging(sys.argv[1])
own = structlog.get_logger("pix_erase.access")
foreign = logging.getLogger("uvicorn.error")
own.debug("own_debug")
own.info("own_info", status_code=200)
foreign.info("foreign %s", "info")
own.warning("own_warning %s", "formatted")
foreign.warning("foreign_warning")
with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
    own.warning("in_span")
    foreign.warning("foreign_in_span")
try:
    1 / 0
except ZeroDivisionError:
    structlog.get_logger("pix_erase.errors").exception("failed", path="/p")
logging.getLogger().setLevel("ERROR")  # the one level, changed at run time
own.warning("own_dropped")
foreign.warning("foreign_dropped")
own.error("own_error")
"""


def lines(level: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, level], check=True, capture_output=True, text=True
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_one_level_for_own_and_standard_library_loggers() -> None:
    events = [line["event"] for line in lines("INFO")]
    assert events == [
        "own_info",
        "foreign info",
        "own_warning formatted",
        "foreign_warning",
        "in_span",
        "foreign_in_span",
        "failed",
        "own_error",
    ]
    assert [line["event"] for line in lines("WARNING")] == events[2:]
    assert [line["event"] for line in lines("DEBUG")] == ["own_debug", *events]


def test_every_line_has_the_documented_fields() -> None:
    found = {line["event"]: line for line in lines("INFO")}
    for line in found.values():
        assert {"timestamp", "level", "event", "logger"} <= set(line)
        assert line["timestamp"].endswith("Z")
    assert found["own_info"] | {"timestamp": ""} == {
        "event": "own_info",
        "status_code": 200,
        "level": "info",
        "logger": "pix_erase.access",
        "timestamp": "",
    }
    assert (found["foreign info"]["level"], found["foreign info"]["logger"]) == (
        "info",
        "uvicorn.error",
    )
    assert found["failed"]["level"] == "error"
    assert "ZeroDivisionError" in found["failed"]["exception"]
    # Inside a span both kinds of line carry its ids; outside, neither.
    own, foreign = found["in_span"], found["foreign_in_span"]
    assert len(own["trace_id"]) == 32
    assert len(own["span_id"]) == 16
    assert (foreign["trace_id"], foreign["span_id"]) == (own["trace_id"], own["span_id"])
    assert "trace_id" not in found["own_info"]
