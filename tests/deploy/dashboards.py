"""The PromQL of PixErase's Grafana dashboards and alert rules, as plain PromQL.

`promql_expressions()` lists every Prometheus query of every panel of
deploy/prod/grafana/dashboards/*.json and every rule of deploy/prod/prometheus/alerts.yml,
with Grafana's macros replaced by fixed values (`MACROS`, documented in
deploy/prod/README.md), so that a test can run each one against a real Prometheus.
A query using a macro not in `MACROS` raises ValueError: add the macro here first.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prod"
DASHBOARDS_DIR = DEPLOY / "grafana" / "dashboards"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS_UID = "prometheus"

MACROS: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "app_name": "PixErase",
}
_MACRO = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def substitute_macros(expr: str) -> str:
    """Replace `$name` and `${name}` by MACROS[name]; any other `$` is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in MACROS:
            raise ValueError(f"unknown Grafana macro ${name} in {expr!r}")
        return MACROS[name]

    plain = _MACRO.sub(value, expr)
    if "$" in plain:
        raise ValueError(f"unsubstituted '$' in {expr!r}")
    return plain


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON, by file name."""
    return {
        path.name: cast(dict[str, Any], json.loads(path.read_text()))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def datasource_uid(panel: dict[str, Any], target: dict[str, Any]) -> str:
    source = target.get("datasource") or panel.get("datasource") or {}
    return cast(str, source.get("uid", ""))


def prometheus_targets(panel: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        target
        for target in panel.get("targets", [])
        if datasource_uid(panel, target) == PROMETHEUS_UID and target.get("expr")
    ]


def alert_rules() -> list[dict[str, Any]]:
    groups = cast(dict[str, Any], yaml.safe_load(ALERT_RULES.read_text()))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promql_expressions() -> list[tuple[str, str]]:
    """(title, PromQL) for every dashboard panel query and every alert rule.

    Titles: "<dashboard title>: <panel title>" (with " [<refId>]" when the panel has
    several queries), and "alert <name>" / "rule <name>" for the rules.
    """
    found: list[tuple[str, str]] = []
    for dashboard in dashboards().values():
        for panel in panels(dashboard):
            targets = prometheus_targets(panel)
            for target in targets:
                title = f"{dashboard['title']}: {panel['title']}"
                if len(targets) > 1:
                    title += f" [{target['refId']}]"
                found.append((title, substitute_macros(target["expr"])))
    for rule in alert_rules():
        title = f"alert {rule['alert']}" if "alert" in rule else f"rule {rule['record']}"
        found.append((title, substitute_macros(rule["expr"])))
    return found
