"""Every dashboard and alert query is PromQL that Prometheus 2.42 parses, and every
dashboard query answers on series shaped like the app's metrics (promtool evaluates
them on synthetic samples: no Prometheus server is needed)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dashboards import dashboards, promql_expressions, substitute_macros
from tests.deploy.tools import run, tool

# The metrics the application exports (its contract with these dashboards).
APP_METRICS = {
    "fastapi_requests_total",
    "fastapi_request_duration_seconds_bucket",
    "fastapi_request_duration_seconds_sum",
    "fastapi_request_duration_seconds_count",
    "fastapi_exceptions_total",
    "fastapi_requests_in_progress",
    "fastapi_app_info",
    "taskiq_tasks_total",
    "taskiq_tasks_duration_seconds_bucket",
    "taskiq_tasks_duration_seconds_sum",
    "taskiq_tasks_duration_seconds_count",
    "taskiq_worker_info",
}
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"]
BUCKETS += ["30", "60", "120", "+Inf"]
APP = 'app_name="PixErase"'
TASK = 'task_name="pix_erase.run_task"'
# 75 minutes of samples, one every 15 s (the stack's scrape interval).
STEPS = 300


def counter(labels: str, per_step: float) -> dict[str, str]:
    return {"series": labels, "values": f"0+{per_step}x{STEPS}"}


def gauge(labels: str, value: float) -> dict[str, str]:
    return {"series": labels, "values": f"{value}x{STEPS}"}


def histogram(name: str, labels: str, cumulative: dict[str, float]) -> list[dict[str, str]]:
    """Bucket series growing per step by `cumulative` at each le given, and for the les
    between by the value at the le before (0 below the first)."""
    series = []
    per_step = 0.0
    for le in BUCKETS:
        per_step = cumulative.get(le, per_step)
        series.append(counter(f'{name}_bucket{{{labels}, le="{le}"}}', per_step))
    return series


def requests(method: str, path: str, status: str, per_step: float) -> dict[str, str]:
    labels = f'{APP}, method="{method}", path="{path}", status_code="{status}"'
    return counter(f"fastapi_requests_total{{{labels}}}", per_step)


IMAGES = 'method="GET", path="/api/v1/images"'
OPERATIONS = 'method="POST", path="/api/v1/images/{image_id}/operations"'

# Per 15 s: 12 API requests (9 are 2xx, 2 are 4xx, 1 is 5xx) besides Prometheus' scrapes;
# 100 timed requests of which 95 take under 0.1 s and 5 between 10 and 30 s; 10 tasks,
# 2 of them failing.
BUSY_SERIES: list[dict[str, str]] = [
    requests("GET", "/api/v1/images", "200", 6),
    requests("POST", "/api/v1/images/{image_id}/operations", "202", 3),
    requests("GET", "/api/v1/images/{image_id}", "404", 2),
    requests("POST", "/api/v1/images/{image_id}/operations", "500", 1),
    requests("GET", "/metrics", "200", 1),
    *histogram(
        "fastapi_request_duration_seconds",
        f"{APP}, {IMAGES}",
        {"0.1": 95, "30": 100},
    ),
    # The scrapes are slow here: a query that counted them would not find p99 = 26 s.
    *histogram(
        "fastapi_request_duration_seconds",
        f'{APP}, method="GET", path="/metrics"',
        {"+Inf": 50},
    ),
    counter(f"fastapi_request_duration_seconds_sum{{{APP}, {IMAGES}}}", 30),
    counter(f"fastapi_request_duration_seconds_count{{{APP}, {IMAGES}}}", 100),
    counter(f'fastapi_exceptions_total{{{APP}, {OPERATIONS}, exception_type="RuntimeError"}}', 1),
    gauge(f"fastapi_requests_in_progress{{{APP}, {OPERATIONS}}}", 2),
    gauge(f'fastapi_requests_in_progress{{{APP}, method="GET", path="/metrics"}}', 1),
    gauge(f"fastapi_app_info{{{APP}}}", 1),
    counter(f'taskiq_tasks_total{{{APP}, {TASK}, status="success"}}', 8),
    counter(f'taskiq_tasks_total{{{APP}, {TASK}, status="error"}}', 2),
    *histogram(
        "taskiq_tasks_duration_seconds",
        f"{APP}, {TASK}",
        {"0.5": 2, "1": 5, "2.5": 8, "5": 9, "10": 10},
    ),
    counter(f"taskiq_tasks_duration_seconds_sum{{{APP}, {TASK}}}", 20),
    counter(f"taskiq_tasks_duration_seconds_count{{{APP}, {TASK}}}", 10),
    gauge(f"taskiq_worker_info{{{APP}}}", 1),
    gauge('up{job="pix_erase_worker", instance="pix_erase.worker:8081"}', 1),
]

# Exact answers at 60m on BUSY_SERIES: (panel title, expected samples).
BUSY_ANSWERS: list[tuple[str, list[dict[str, Any]]]] = [
    (
        "PixErase API: Total requests by status code",
        [
            {"labels": '{status_code="200"}', "value": 1440},
            {"labels": '{status_code="202"}', "value": 720},
            {"labels": '{status_code="404"}', "value": 480},
            {"labels": '{status_code="500"}', "value": 240},
        ],
    ),
    ("PixErase API: Percent of 2xx responses", [{"labels": "{}", "value": 0.75}]),
    ("PixErase API: Percent of 4xx responses", [{"labels": "{}", "value": 2 / 12}]),
    ("PixErase API: Percent of 5xx responses", [{"labels": "{}", "value": 1 / 12}]),
    ("PixErase API: Requests in progress", [{"labels": "{}", "value": 2}]),
    ("PixErase API: Request latency p50 / p95 / p99 [C]", [{"labels": "{}", "value": 26}]),
    (
        "PixErase API: Average request duration",
        [{"labels": f"{{{IMAGES}}}", "value": 0.3}],
    ),
    (
        "PixErase worker: Task failure ratio",
        [{"labels": f"{{{TASK}}}", "value": 0.2}],
    ),
    ("PixErase worker: Workers up", [{"labels": "{}", "value": 1}]),
]

# A quiet hour: requests all succeed, no task fails, no worker answers.
QUIET_SERIES: list[dict[str, str]] = [
    requests("GET", "/api/v1/images", "200", 4),
    counter(f'taskiq_tasks_total{{{APP}, {TASK}, status="success"}}', 3),
]
QUIET_ANSWERS: list[tuple[str, list[dict[str, Any]]]] = [
    ("PixErase API: Percent of 5xx responses", [{"labels": "{}", "value": 0}]),
    ("PixErase API: Percent of 2xx responses", [{"labels": "{}", "value": 1}]),
    ("PixErase worker: Task failure ratio", [{"labels": f"{{{TASK}}}", "value": 0}]),
    ("PixErase worker: Workers up", [{"labels": "{}", "value": 0}]),
]


def dashboard_queries() -> dict[str, str]:
    return {title: expr for title, expr in promql_expressions() if not title.startswith("alert ")}


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def expr_tests(answers: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Each panel's query, rounded to 6 decimals (promtool compares floats exactly)."""
    queries = dashboard_queries()
    return [
        {
            "expr": f"round(({queries[title]}) * 1e6) / 1e6",
            "eval_time": "60m",
            "exp_samples": [
                {**sample, "value": round(sample["value"] * 1e6) / 1e6} for sample in samples
            ],
        }
        for title, samples in answers
    ]


def test_lists_every_prometheus_panel_query_and_every_alert() -> None:
    found = promql_expressions()
    titles = [title for title, _ in found]
    assert len(titles) == len(set(titles))
    prometheus_targets = 0
    for dashboard in dashboards().values():
        for panel in dashboard["panels"]:
            prometheus_targets += sum(
                1 for t in panel.get("targets", []) if t["datasource"]["uid"] == "prometheus"
            )
    alerts = [title for title in titles if title.startswith("alert ")]
    assert len(alerts) == 4
    assert len(found) == prometheus_targets + len(alerts)
    assert all("$" not in expr for _, expr in found)


def test_macros_are_substituted_and_unknown_ones_refused() -> None:
    assert substitute_macros('rate(x{a="$app_name"}[$__rate_interval])') == (
        'rate(x{a="PixErase"}[1m])'
    )
    assert substitute_macros("increase(x[${__range}])") == "increase(x[1h])"
    with pytest.raises(ValueError, match="__from"):
        substitute_macros("x[$__from]")


def test_queries_use_only_the_apps_metrics() -> None:
    for title, expr in promql_expressions():
        names = set(re.findall(r"\b((?:fastapi|taskiq)_\w+)", expr))
        assert names <= APP_METRICS, f"{title}: {names - APP_METRICS}"


def test_prometheus_parses_every_query(tmp_path: Path) -> None:
    rules = [
        {"record": f"pix_erase:query_{i}", "expr": expr}
        for i, (_, expr) in enumerate(promql_expressions())
    ]
    path = write_yaml(tmp_path / "queries.yml", {"groups": [{"name": "q", "rules": rules}]})
    output = run([tool("promtool"), "check", "rules", str(path)])
    assert f"SUCCESS: {len(rules)} rules found" in output


def test_every_dashboard_query_answers_on_the_apps_series(tmp_path: Path) -> None:
    """At least one sample that is a number (not NaN) for every panel query."""
    checks = [
        {
            "expr": f"clamp_max(count(({expr}) == ({expr})), 1)",
            "eval_time": "60m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        }
        for expr in dashboard_queries().values()
    ]
    tests = {
        "tests": [{"interval": "15s", "input_series": BUSY_SERIES, "promql_expr_test": checks}]
    }
    path = write_yaml(tmp_path / "answers.test.yml", {"rule_files": [], **tests})
    run([tool("promtool"), "test", "rules", path.name], cwd=tmp_path)


def test_dashboard_queries_give_the_right_numbers(tmp_path: Path) -> None:
    tests = {
        "tests": [
            {
                "interval": "15s",
                "input_series": BUSY_SERIES,
                "promql_expr_test": expr_tests(BUSY_ANSWERS),
            },
            {
                "interval": "15s",
                "input_series": QUIET_SERIES,
                "promql_expr_test": expr_tests(QUIET_ANSWERS),
            },
        ]
    }
    path = write_yaml(tmp_path / "values.test.yml", {"rule_files": [], **tests})
    run([tool("promtool"), "test", "rules", path.name], cwd=tmp_path)
