"""Vector: its config, and its remap run with VRL's own runtime on lines shaped like the
app's (tests/deploy/vrl.py)."""

import json

import pytest

from tests.deploy.vrl import (
    DOCKER_TIMESTAMP,
    LOG_FIELDS,
    loki_line,
    remap_line,
    vector_config,
    vrl_source,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
REQUEST = {
    "timestamp": "2026-11-25T20:41:43.155353Z",
    "level": "info",
    "event": "request",
    "logger": "pix_erase.access",
    "trace_id": TRACE_ID,
    "span_id": SPAN_ID,
    "http_method": "GET",
    "url": "/api/v1/images?limit=2",
    "status_code": 200,
    "client_addr": "172.18.0.1:51234",
    "duration_ms": 3.1,
}
TASK = {
    "timestamp": "2026-11-25T20:41:44.901122Z",
    "level": "info",
    "event": "task finished",
    "logger": "pix_erase.worker",
    "trace_id": TRACE_ID,
    "span_id": "a1b2c3d4e5f60718",
    "task_id": "8d6f1c52-5b0e-4d7e-9a43-0c2f3d1e4b5a",
    "task_name": "pix_erase.run_task",
    "operation": "rotate",
    "duration_ms": 812.4,
}
UNTRACED = {
    "timestamp": "2026-11-25T20:41:40.000001Z",
    "level": "warning",
    "event": "broker unavailable",
    "logger": "pix_erase.health",
}
KEYS = {"container_name", "timestamp", *LOG_FIELDS}


def nothing_else(**fields: object) -> dict[str, object]:
    """The remap's output: these log_* fields, every other one null."""
    return {name: fields.get(name) for name in LOG_FIELDS}


def log_fields(event: dict[str, object]) -> dict[str, object]:
    assert set(event) == KEYS
    return {name: event[name] for name in LOG_FIELDS}


def test_request_line() -> None:
    event = remap_line(json.dumps(REQUEST), "pix_erase.api")
    assert event["container_name"] == "pix_erase.api"
    assert event["timestamp"] == DOCKER_TIMESTAMP
    assert log_fields(event) == {
        "log_level": "INFO",
        "log_event": "request",
        "log_trace_id": TRACE_ID,
        "log_span_id": SPAN_ID,
        "log_http_method": "GET",
        "log_url": "/api/v1/images?limit=2",
        "log_status_code": 200,
        "log_client_addr": "172.18.0.1:51234",
        "log_timestamp": "2026-11-25T20:41:43.155353Z",
    }


def test_worker_line_with_task_fields() -> None:
    event = remap_line(json.dumps(TASK), "pix_erase.worker")
    assert event["container_name"] == "pix_erase.worker"
    assert log_fields(event) == nothing_else(
        log_level="INFO",
        log_event="task finished",
        log_trace_id=TRACE_ID,
        log_span_id="a1b2c3d4e5f60718",
        log_timestamp="2026-11-25T20:41:44.901122Z",
    )


def test_line_without_trace() -> None:
    event = remap_line(json.dumps(UNTRACED), "pix_erase.api")
    assert log_fields(event) == nothing_else(
        log_level="WARNING",
        log_event="broker unavailable",
        log_timestamp="2026-11-25T20:41:40.000001Z",
    )


@pytest.mark.parametrize(
    ("stream", "level"), [("stdout", "INFO"), ("stderr", "ERROR")], ids=["stdout", "stderr"]
)
def test_non_json_line_passes_through(stream: str, level: str) -> None:
    line = "Traceback (most recent call last):"
    event = remap_line(line, "pix_erase.worker", stream=stream)
    assert event["container_name"] == "pix_erase.worker"
    assert log_fields(event) == nothing_else(
        log_level=level, log_event=line, log_timestamp=DOCKER_TIMESTAMP
    )


@pytest.mark.parametrize("line", ["42", '"just text"', "[1, 2]", "null", "", "{not json"])
def test_json_that_is_not_an_object_is_a_raw_line(line: str) -> None:
    event = remap_line(line, "pix_erase.api")
    assert log_fields(event) == nothing_else(
        log_level="INFO", log_event=line, log_timestamp=DOCKER_TIMESTAMP
    )


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("debug", "DEBUG"),
        ("info", "INFO"),
        ("warning", "WARNING"),
        ("warn", "WARNING"),
        ("error", "ERROR"),
        ("exception", "ERROR"),
        ("critical", "ERROR"),
        ("INFO", "INFO"),
    ],
)
def test_levels_are_the_seeds(level: str, expected: str) -> None:
    event = remap_line(json.dumps({**UNTRACED, "level": level}), "pix_erase.api")
    assert event["log_level"] == expected


def test_missing_level_is_info_even_on_stderr() -> None:
    line = json.dumps({"event": "started"})
    assert remap_line(line, "pix_erase.api", stream="stderr")["log_level"] == "INFO"


def test_exception_traceback_follows_the_event() -> None:
    traceback = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad'
    line = json.dumps({**REQUEST, "level": "error", "event": "unhandled", "exception": traceback})
    event = remap_line(line, "pix_erase.api")
    assert event["log_level"] == "ERROR"
    assert event["log_event"] == "unhandled\n" + traceback


def test_odd_types_do_not_break_the_remap() -> None:
    line = json.dumps(
        {"level": 3, "event": {"nested": True}, "trace_id": 12, "status_code": "404", "url": None}
    )
    event = remap_line(line, "pix_erase.api")
    assert log_fields(event) == nothing_else(
        log_level="INFO", log_event=line, log_status_code=404, log_timestamp=DOCKER_TIMESTAMP
    )


def test_loki_gets_exactly_the_seeds_fields() -> None:
    sent = json.loads(loki_line(remap_line(json.dumps(TASK), "pix_erase.worker")))
    assert set(sent) == set(LOG_FIELDS)


def test_vrl_has_no_dollar_for_vectors_env_interpolation() -> None:
    assert "$" not in vrl_source()


def test_sources_sinks_and_metrics_port() -> None:
    config = vector_config()
    source = config["sources"]["pix_erase_logs"]
    assert source["type"] == "docker_logs"
    assert source["include_containers"] == ["pix_erase.api", "pix_erase.worker"]
    remap = config["transforms"]["pix_erase_remap"]
    assert remap["type"] == "remap"
    assert remap["inputs"] == ["pix_erase_logs"]
    assert remap["drop_on_error"] is False
    loki = config["sinks"]["loki"]
    assert loki["type"] == "loki"
    assert loki["inputs"] == ["pix_erase_remap"]
    assert loki["endpoint"] == "http://loki:3100"
    assert loki["encoding"]["codec"] == "json"
    assert loki["labels"] == {"container_name": "{{ container_name }}"}
    assert loki["remove_label_fields"] is True
    metrics = config["sinks"]["prometheus"]
    assert metrics["type"] == "prometheus_exporter"
    assert metrics["address"] == "0.0.0.0:8383"
    assert config["sources"][metrics["inputs"][0]]["type"] == "internal_metrics"
