"""The observability contract on live processes: `pix-erase api` and `pix-erase worker`
on PostgreSQL, Redis and S3, traced to a real OTLP/gRPC receiver, scraped by a real
Prometheus, their stdout read as Vector would read it.

One module-scoped run makes the traffic (successes, a 404, a 422, a failed task, and a
503 during a PostgreSQL outage); the tests then check what each signal recorded.
"""

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.backends import PixProcess, ProductionBackends, free_port
from tests.conftest import encode, sample_rgb
from tests.deploy.dashboards import promql_expressions
from tests.deploy.vrl import LOG_FIELDS, remap_line
from tests.otlp import OtlpReceiver, ReceivedSpan
from tests.prometheus import Prometheus

SEED_QUERY = 'sum(fastapi_requests_total{app_name="PixErase", path!="/metrics"}) by (status_code)'
SEED_LOG_FIELDS = set(LOG_FIELDS)
SERVER = "SPAN_KIND_SERVER"
PASSWORD = "observability-" + secrets.token_hex(4)
DB_PASSWORD = "db-" + secrets.token_hex(6)  # trust auth ignores it; it must never be logged


@dataclass
class Run:
    api: PixProcess
    worker: PixProcess
    prometheus: Prometheus
    receiver: OtlpReceiver
    token: str = ""
    operation_trace_id: str = ""
    chained_trace_id: str = ""
    chained_parent_id: str = ""  # the span id in the client's traceparent
    task_ids: list[str] = field(default_factory=list)

    def log_lines(self, process: PixProcess) -> list[dict[str, Any]]:
        return [json.loads(line) for line in process.log().splitlines() if line.strip()]


def wait_task(http: httpx.Client, task_id: str) -> dict[str, Any]:
    for _ in range(1200):
        task: dict[str, Any] = http.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in ("succeeded", "failed"):
            return task
        time.sleep(0.05)
    raise AssertionError(task)


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def make_traffic(run: Run, base: str, backends: ProductionBackends) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        creds = {"email": "watch@example.com", "password": PASSWORD}
        assert http.post("/api/v1/auth/signup", json=creds).status_code == 201
        login = http.post("/api/v1/auth/login", json=creds)
        run.token = login.json()["access_token"]
        http.headers["Authorization"] = f"Bearer {run.token}"

        image = http.post(
            "/api/v1/images", files={"file": ("a.png", encode(sample_rgb(), "PNG"))}
        ).json()
        submit = http.post(
            f"/api/v1/images/{image['id']}/operations",
            json={"operation": {"type": "rotate", "angle": 30}},
        )
        run.task_ids.append(submit.json()["task_id"])
        assert wait_task(http, run.task_ids[-1])["status"] == "succeeded"

        # A client that sends its own traceparent gets one trace from upload to result.
        run.chained_trace_id, run.chained_parent_id, parent = traceparent()
        chained = {"traceparent": parent}
        upload = http.post(
            "/api/v1/images",
            files={"file": ("b.jpg", encode(sample_rgb(), "JPEG"))},
            headers=chained,
        ).json()
        task_id = http.post(
            f"/api/v1/images/{upload['id']}/operations",
            json={"operation": {"type": "grayscale"}},
            headers=chained,
        ).json()["task_id"]
        result = wait_task(http, task_id)
        http.get(f"/api/v1/images/{result['result']['image_id']}/content", headers=chained)

        plain = http.post(
            "/api/v1/images",
            files={"file": ("c.png", encode(Image.new("RGB", (400, 300)), "PNG"))},
        ).json()
        nothing = http.post(
            f"/api/v1/images/{plain['id']}/operations",
            json={"operation": {"type": "remove_watermark"}},
        ).json()["task_id"]
        assert wait_task(http, nothing)["status"] == "failed"  # no watermark found

        assert http.get("/api/v1/images/not-a-uuid").status_code == 422
        assert http.get("/no/such/route").status_code == 404
        backends.postgres.stop()
        try:
            assert http.get("/api/v1/auth/me").status_code == 503
        finally:
            backends.postgres.start()
        http.post("/api/v1/auth/logout")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("observability")
    backends = ProductionBackends()
    receiver = OtlpReceiver()
    api_port, worker_port = free_port(), free_port()
    env = backends.env() | {
        "DATABASE_URL": backends.postgres.url.replace("postgres@", f"postgres:{DB_PASSWORD}@"),
        "PIX_ERASE_DATA_DIR": str(root),
        "MAX_IMAGE_PIXELS": "40000000",
        "UVICORN_PORT": str(api_port),
        "WORKER_METRICS_PORT": str(worker_port),
        "OTEL_TRACES_ENABLED": "true",
        "TEMPO_HOST": "127.0.0.1",
        "TEMPO_GRPC_PORT": str(receiver.port),
        "TASK_CLAIM_TIMEOUT_SECONDS": "5",
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
    }
    subprocess.run(
        [sys.executable, "-m", "pix_erase", "migrate"], env=env, check=True, capture_output=True
    )
    api = PixProcess(["api"], env, root / "api.log")
    worker = PixProcess(["worker", "--processes", "1"], env, root / "worker.log")
    prometheus = Prometheus(
        {"pix_erase_api": f"127.0.0.1:{api_port}", "pix_erase_worker": f"127.0.0.1:{worker_port}"}
    )
    started = Run(api, worker, prometheus, receiver)
    try:
        base = f"http://127.0.0.1:{api_port}"
        api.wait_ready(base)
        make_traffic(started, base, backends)
        # rate() and increase() need two samples of a series: wait for the newest ones.
        prometheus.wait_for("count_over_time(fastapi_exceptions_total[1m]) >= 2")
        prometheus.wait_for('count_over_time(taskiq_tasks_total{status="error"}[1m]) >= 2')
        yield started
    finally:
        for process in (api, worker):
            process.stop()
        prometheus.close()
        receiver.close()
        backends.close()


def spans_of(run: Run, trace_id: str) -> list[ReceivedSpan]:
    return [span for span in run.receiver.spans() if span.trace_id == trace_id]


def operation_trace(run: Run) -> str:
    """The trace id of the request that submitted the first task, from the access log."""
    for line in run.log_lines(run.api):
        if line.get("event") == "request" and line.get("url", "").endswith("/operations"):
            trace_id: str = line["trace_id"]
            return trace_id
    raise AssertionError("no access-log line for the operation request")


def test_one_trace_from_request_to_worker_task(run: Run) -> None:
    trace_id = operation_trace(run)
    deadline = time.monotonic() + 30  # spans are exported in batches, every few seconds
    while time.monotonic() < deadline:
        spans = spans_of(run, trace_id)
        if {"api", "worker"} <= {s.role for s in spans} and any(s.name == "encode" for s in spans):
            break
        time.sleep(0.5)
    names = {s.name for s in spans}
    assert {s.role for s in spans} == {"api", "worker"}
    assert {s.service for s in spans} == {"PixErase"}
    assert "task pix_erase.run_task" in names
    assert {"decode", "rotate", "encode"} <= names  # the image work, as child spans
    assert {"POST /api/v1/images/{image_id}/operations", "SELECT", "INSERT", "XADD"} <= names
    assert {"S3.GetObject", "S3.PutObject"} <= names  # the worker reads and writes S3
    task = next(s for s in spans if s.name == "task pix_erase.run_task")
    assert task.parent_span_id in {s.span_id for s in spans if s.role == "api"}


def test_a_client_traceparent_ties_upload_task_and_download(run: Run) -> None:
    def tied(names: set[str]) -> tuple[bool, bool, bool]:
        return (
            any("/api/v1/images/{image_id}/content" in name for name in names),
            any(name.startswith("POST /api/v1/images") for name in names),
            "task pix_erase.run_task" in names,
        )

    # The API and the worker export in batches of their own: wait for both.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        names = {s.name for s in spans_of(run, run.chained_trace_id)}
        if all(tied(names)):
            break
        time.sleep(0.5)
    download, upload, task = tied(names)
    assert download
    assert upload
    assert task


def test_request_spans_are_named_by_route_and_carry_the_outcome(run: Run) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        spans = [s for s in run.receiver.spans() if (s.role, s.kind) == ("api", SERVER)]
        if any(s.name == "GET /api/v1/auth/me" for s in spans):
            break
        time.sleep(0.5)
    by_name: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    operation = by_name["POST /api/v1/images/{image_id}/operations"][0]
    assert operation.status == "STATUS_CODE_UNSET"
    assert operation.attributes["http.request.method"] == "POST"
    assert operation.attributes["http.route"] == "/api/v1/images/{image_id}/operations"
    assert operation.attributes["http.response.status_code"] == 202
    path = operation.attributes["url.path"]
    assert isinstance(path, str)
    assert path.startswith("/api/v1/images/")
    assert "{" not in path
    assert operation.attributes["client.address"] == "127.0.0.1"
    unmatched = by_name["GET <unmatched>"][0]  # a 4xx is the client's error, not the span's
    assert (unmatched.status, unmatched.attributes["http.response.status_code"]) == (
        "STATUS_CODE_UNSET",
        404,
    )
    outage = by_name["GET /api/v1/auth/me"][-1]  # the 503 while PostgreSQL was down
    assert outage.status == "STATUS_CODE_ERROR"
    assert outage.attributes["http.response.status_code"] == 503
    assert outage.attributes["error.type"]
    # The client's traceparent is the parent of the request's span.
    download = next(s for s in spans if s.name == "GET /api/v1/images/{image_id}/content")
    assert (download.trace_id, download.parent_span_id) == (
        run.chained_trace_id,
        run.chained_parent_id,
    )
    # Probes and scrapes get no span.
    assert not any(s.name.startswith(("GET /health", "GET /metrics")) for s in spans)


def test_log_lines_carry_the_same_trace_id(run: Run) -> None:
    trace_id = operation_trace(run)
    worker_lines = [line for line in run.log_lines(run.worker) if line.get("trace_id") == trace_id]
    assert any(line["event"] == "task_succeeded" for line in worker_lines)
    api_lines = run.log_lines(run.api)
    requests = [line for line in api_lines if line.get("event") == "request"]
    assert requests
    assert all(line["logger"] == "pix_erase.access" for line in requests)  # one line each
    for line in api_lines + run.log_lines(run.worker):
        assert {"timestamp", "level", "event"} <= set(line)
        if line.get("event") == "request":
            assert {"http_method", "url", "status_code", "client_addr"} <= set(line)
            # Probes and scrapes are not traced (they explain no cost); the rest are.
            traced = not line["url"].startswith(("/health/", "/metrics"))
            assert traced == ({"trace_id", "span_id"} <= set(line)), line


def test_exemplars_are_the_trace_ids_of_the_requests(run: Run) -> None:
    # prometheus_client keeps the latest exemplar per bucket, so a scrape sees one request
    # of each burst: every exemplar must be the trace of a real request of that route.
    def traces(process: PixProcess, url_part: str = "") -> set[str]:
        return {
            line["trace_id"]
            for line in run.log_lines(process)
            if "trace_id" in line and url_part in line.get("url", "")
        }

    exemplars = run.prometheus.exemplars("fastapi_request_duration_seconds_bucket")
    seen = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert seen
    assert seen <= traces(run.api)
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) and set(t) != {"0"} for t in seen)
    operations = {
        e["labels"]["trace_id"]
        for series in exemplars
        if series["seriesLabels"].get("path") == "/api/v1/images/{image_id}/operations"
        for e in series["exemplars"]
    }
    assert operations
    assert operations <= traces(run.api, "/operations")
    task_exemplars = run.prometheus.exemplars("taskiq_tasks_duration_seconds_bucket")
    task_traces = {e["labels"]["trace_id"] for s in task_exemplars for e in s["exemplars"]}
    assert task_traces
    assert task_traces <= traces(run.worker) & traces(run.api, "/operations")


def test_the_seed_query_returns_series_by_status_code(run: Run) -> None:
    result = run.prometheus.query(SEED_QUERY)
    codes = {series["metric"]["status_code"] for series in result}
    assert {"200", "201", "202", "204", "404", "422", "503"} <= codes


@pytest.mark.parametrize(("title", "expr"), promql_expressions())
def test_every_dashboard_and_alert_query_returns_data(run: Run, title: str, expr: str) -> None:
    # An alert's threshold decides whether it fires; what must exist is the data it reads.
    unthresholded = re.sub(r"\s*(>=|<=|==|!=|>|<)\s*[0-9.e+-]+\s*$", "", expr.strip())
    assert run.prometheus.query(unthresholded), f"{title}: {unthresholded}"


def test_vector_remap_of_real_lines_yields_the_seed_fields(run: Run) -> None:
    for process, container in ((run.api, "pix_erase.api"), (run.worker, "pix_erase.worker")):
        lines = [line for line in process.log().splitlines() if line.strip()]
        assert lines
        for line in lines:
            event = remap_line(line, container)
            fields = {key for key in event if key.startswith("log_")}
            assert fields <= SEED_LOG_FIELDS, fields - SEED_LOG_FIELDS
            assert {"log_level", "log_event", "log_timestamp"} <= fields
            if json.loads(line).get("event") == "request":
                assert fields == SEED_LOG_FIELDS
                assert event["container_name"] == container


def test_no_secret_is_ever_logged(run: Run) -> None:
    output = run.api.log() + run.worker.log()
    for secret in (PASSWORD, run.token, DB_PASSWORD, "test-secret"):
        assert secret not in output
