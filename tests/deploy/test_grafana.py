"""Grafana provisioning and dashboards: data sources linked both ways, the documented panels."""

import re
from typing import Any, cast

import yaml

from tests.deploy.dashboards import dashboards, datasource_uid, panels
from tests.deploy.tools import COMPOSE_FILE, DEPLOY
from tests.deploy.vrl import loki_line, remap_line

PROVISIONING = DEPLOY / "grafana" / "provisioning"
DATASOURCES = PROVISIONING / "datasources" / "datasources.yaml"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST_LINE = (
    '{"timestamp": "2026-11-25T20:41:43.155353Z", "level": "info", "event": "request", '
    '"logger": "pix_erase.access", "trace_id": "' + TRACE_ID + '", "span_id": "00f067aa0ba902b7", '
    '"http_method": "GET", "url": "/api/v1/images?limit=2", "status_code": 200, '
    '"client_addr": "172.18.0.1:51234", "duration_ms": 3.1}'
)
UNTRACED_LINE = (
    '{"timestamp": "2026-11-25T20:41:40.000001Z", "level": "info", "event": "worker started", '
    '"logger": "pix_erase.worker"}'
)
SEED_PROMQL = 'sum(fastapi_requests_total{app_name="PixErase", path!="/metrics"}) by (status_code)'
SEED_LOGQL = (
    '{container_name="pix_erase.api"} | json | '
    'line_format "{{.log_level}} trace_id={{.log_trace_id}} {{.log_event}}"'
)
# The documented list of what api-metrics.json monitors -> our panel titles.
API_PANELS = {
    "Total requests: Overall request count by status code": "Total requests by status code",
    "Request counts: Breakdown by HTTP method and path": "Request count by method and path",
    "Average request duration: Response time statistics": "Average request duration",
    "Exception counts: Error tracking and categorization": "Exception count by type",
    "Response percentages: 2xx": "Percent of 2xx responses",
    "Response percentages: 4xx": "Percent of 4xx responses",
    "Response percentages: 5xx": "Percent of 5xx responses",
    "Request latency: 99th percentile latency measurements": "P99 request latency by path",
    "Requests per second: Throughput metrics": "Requests per second",
    "Logs: the Loki panel": "Log of All FastAPI App",
}


def datasources() -> dict[str, dict[str, Any]]:
    document = cast(dict[str, Any], yaml.safe_load(DATASOURCES.read_text()))
    return {source["uid"]: source for source in document["datasources"]}


def unescape(value: str) -> str:
    """What Grafana makes of a provisioning value: `$$` is a literal `$`."""
    return value.replace("$$", "$")


def panel(file: str, title: str) -> dict[str, Any]:
    matches = [p for p in panels(dashboards()[file]) if p["title"] == title]
    assert len(matches) == 1, f"{file}: {len(matches)} panels titled {title!r}"
    return matches[0]


def line_format(event: dict[str, Any]) -> list[str]:
    """The documented line_format rendering of a Loki line, for a null field rendered as Loki
    may render it: empty, or Go's `<no value>`."""
    return [
        f"{event['log_level']} trace_id={event['log_trace_id'] or empty} {event['log_event']}"
        for empty in ("", "<no value>")
    ]


def test_fixed_uids_of_the_three_sources() -> None:
    sources = datasources()
    assert {uid: s["type"] for uid, s in sources.items()} == {
        "prometheus": "prometheus",
        "loki": "loki",
        "tempo": "tempo",
    }
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["loki"]["url"] == "http://loki:3100"
    assert sources["tempo"]["url"] == "http://tempo:3200"


def test_every_panel_uses_a_provisioned_source() -> None:
    uids = set(datasources())
    for file, dashboard in dashboards().items():
        for p in panels(dashboard):
            assert p["datasource"]["uid"] in uids, f"{file}: {p['title']}"
            for target in p.get("targets", []):
                assert datasource_uid(p, target) in uids, f"{file}: {p['title']}"
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] in uids


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_no_unescaped_dollar_in_provisioning() -> None:
    """Grafana expands $VAR and ${VAR} in provisioning values: Grafana's own ${__...}
    variables must be written $${__...}."""
    for path in PROVISIONING.rglob("*.yaml"):
        for value in strings(yaml.safe_load(path.read_text())):
            assert "$" not in value.replace("$$", ""), f"{path.name}: {value}"


def test_exemplars_link_to_tempo_by_the_apps_label() -> None:
    destinations = datasources()["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    by_name = {d["name"]: d for d in destinations}
    assert by_name["trace_id"]["datasourceUid"] == "tempo"
    assert all(d["datasourceUid"] in datasources() for d in destinations)


def test_log_lines_link_to_their_trace() -> None:
    (field,) = datasources()["loki"]["jsonData"]["derivedFields"]
    assert field["datasourceUid"] == "tempo"
    assert unescape(field["url"]) == "${__value.raw}"
    matcher = re.compile(field["matcherRegex"])
    event = remap_line(REQUEST_LINE, "pix_erase.api")
    for shown in [loki_line(event), *line_format(event)]:
        found = matcher.search(shown)
        assert found is not None, shown
        assert found.group(1) == TRACE_ID
    untraced = remap_line(UNTRACED_LINE, "pix_erase.worker")
    for shown in [loki_line(untraced), *line_format(untraced)]:
        assert matcher.search(shown) is None, shown


def test_traces_link_to_their_log_lines() -> None:
    links = datasources()["tempo"]["jsonData"]["tracesToLogsV2"]
    assert links["datasourceUid"] == "loki"
    assert links["customQuery"] is True
    query = unescape(links["query"]).replace("${__trace.traceId}", TRACE_ID)
    selector = re.search(r'container_name=~"([^"]+)"', query)
    assert selector is not None, query
    # Loki anchors label regexes: they must match the whole container name.
    for container in ("pix_erase.api", "pix_erase.worker"):
        assert re.fullmatch(selector.group(1), container), container
    line_filter = re.search(r'\|= "([^"]+)"', query)
    assert line_filter is not None, query
    assert line_filter.group(1) == TRACE_ID
    assert line_filter.group(1) in loki_line(remap_line(REQUEST_LINE, "pix_erase.api"))
    assert line_filter.group(1) in loki_line(remap_line(REQUEST_LINE, "pix_erase.worker"))


def test_traces_link_to_metrics_and_the_service_map() -> None:
    tempo = datasources()["tempo"]["jsonData"]
    assert tempo["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert tempo["tracesToMetrics"]["queries"]
    for query in tempo["tracesToMetrics"]["queries"]:
        assert "traces_spanmetrics_" in query["query"]
        assert "$__tags" in unescape(query["query"])
    assert tempo["serviceMap"]["datasourceUid"] == "prometheus"


def test_api_dashboard_has_every_documented_panel() -> None:
    titles = [p["title"] for p in panels(dashboards()["api-metrics.json"])]
    for seed_item, title in API_PANELS.items():
        assert title in titles, seed_item
    assert len(titles) == len(set(titles))


def test_seed_query_verbatim() -> None:
    (target,) = panel("api-metrics.json", "Total requests by status code")["targets"]
    assert target["expr"] == SEED_PROMQL


def test_loki_panel_runs_the_seeds_logql() -> None:
    logs = panel("api-metrics.json", "Log of All FastAPI App")
    assert logs["type"] == "logs"
    (target,) = logs["targets"]
    assert target["datasource"]["uid"] == "loki"
    assert target["expr"] == SEED_LOGQL


def test_percentage_panels_select_their_status_class() -> None:
    for status_class in ("2", "4", "5"):
        p = panel("api-metrics.json", f"Percent of {status_class}xx responses")
        (target,) = p["targets"]
        assert f'status_code=~"{status_class}.."' in target["expr"]
        assert p["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_latency_panels_show_exemplars() -> None:
    for file, title in [
        ("api-metrics.json", "P99 request latency by path"),
        ("api-metrics.json", "Request latency p50 / p95 / p99"),
        ("worker-metrics.json", "Task duration p50 / p99"),
    ]:
        targets = panel(file, title)["targets"]
        assert any(t["exemplar"] for t in targets), title
        assert all("histogram_quantile(" in t["expr"] for t in targets), title
    (p99,) = panel("api-metrics.json", "P99 request latency by path")["targets"]
    assert p99["expr"].startswith("histogram_quantile(0.99,")


def test_worker_dashboard_panels() -> None:
    titles = {p["title"] for p in panels(dashboards()["worker-metrics.json"])}
    assert {
        "Tasks per second by status",
        "Task failure ratio",
        "Task duration p50 / p99",
        "Tasks in flight (average)",
    } <= titles
    logs = panel("worker-metrics.json", "Log of the worker")
    assert logs["targets"][0]["expr"].startswith('{container_name="pix_erase.worker"} | json')


def test_dashboards_are_well_formed() -> None:
    for file, dashboard in dashboards().items():
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), file
        for p in panels(dashboard):
            grid = p["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{file}: {p['title']}"
        (variable,) = dashboard["templating"]["list"]
        assert variable["name"] == "app_name"
        assert variable["current"]["value"] == "PixErase"
    assert {d["uid"] for d in dashboards().values()} == {"pix-erase-api", "pix-erase-worker"}


def test_provisioned_dashboards_are_the_mounted_files() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yaml").read_text())
    (entry,) = provider["providers"]
    grafana = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]
    assert f"./deploy/prod/grafana/dashboards:{entry['options']['path']}:ro" in grafana["volumes"]
    assert "./deploy/prod/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
