"""Prometheus: the config, the alert rules and their unit tests, checked by promtool
(Prometheus 2.42, the oldest release the files must suit; the compose file runs 3.x)."""

from pathlib import Path
from typing import Any, cast

import yaml

from tests.deploy.tools import PROMETHEUS_DIR, run, tool

CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
ALERTS = {
    "PixEraseHighErrorRate",
    "PixEraseHighLatencyP99",
    "PixEraseTaskFailures",
    "PixEraseTargetDown",
}


def load(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load(path.read_text()))


def test_promtool_accepts_the_config_and_its_rule_files() -> None:
    output = run([tool("promtool"), "check", "config", str(CONFIG)])
    assert "SUCCESS: 1 rule files found" in output


def test_promtool_accepts_the_rules() -> None:
    output = run([tool("promtool"), "check", "rules", str(RULES)])
    assert f"SUCCESS: {len(ALERTS)} rules found" in output


def test_the_rule_unit_tests_pass() -> None:
    output = run([tool("promtool"), "test", "rules", RULE_TESTS.name], cwd=PROMETHEUS_DIR)
    assert "SUCCESS" in output


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    names = {rule["alert"] for group in load(RULES)["groups"] for rule in group["rules"]}
    assert names == ALERTS
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == ALERTS
    assert quiet == ALERTS


def test_alerts_carry_severity_and_a_summary() -> None:
    for group in load(RULES)["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


def test_scrapes_the_app_vector_tempo_and_loki() -> None:
    config = load(CONFIG)
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["pix_erase_api"] == ["pix_erase.api:8080"]
    assert targets["pix_erase_worker"] == ["pix_erase.worker:8081"]
    assert targets["vector"] == ["vector:8383"]
    assert targets["tempo"] == ["tempo:3200"]
    assert targets["loki"] == ["loki:3100"]
    assert config["rule_files"] == [RULES.name]
    assert config["storage"]["exemplars"]["max_exemplars"] > 0
