"""The API's /metrics: the documented families and labels, bounded cardinality, OpenMetrics."""

import uuid

import httpx
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import UserClient, encode, sample_rgb


async def scrape(client: httpx.AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            families.setdefault(sample.name, []).append((sample.labels, sample.value))
    return families


def value(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    return sum(v for got, v in samples if all(got.get(k) == w for k, w in labels.items()))


async def test_requests_are_counted_by_route_template_and_status(user: UserClient) -> None:
    image = await user.upload_ok(encode(sample_rgb(), "PNG"))
    before = await scrape(user.http)
    await user.get(f"/api/v1/images/{image['id']}")
    await user.get(f"/api/v1/images/{uuid.uuid4()}")
    after = await scrape(user.http)
    template = "/api/v1/images/{image_id}"
    for status in ("200", "404"):
        labels = {"path": template, "status_code": status, "method": "GET"}
        grew = value(after["fastapi_requests_total"], **labels) - value(
            before.get("fastapi_requests_total", []), **labels
        )
        assert grew == 1, status
    assert all(labels["app_name"] == "PixErase" for labels, _ in after["fastapi_requests_total"])
    assert not any(image["id"] in labels["path"] for labels, _ in after["fastapi_requests_total"])
    assert value(after["fastapi_request_duration_seconds_count"], path=template) >= 2
    buckets = {labels["le"] for labels, _ in after["fastapi_request_duration_seconds_bucket"]}
    assert "120.0" in buckets  # slow image work does not pin p99 to the top bucket
    assert value(after["fastapi_app_info"], app_name="PixErase") == 1
    assert "fastapi_requests_in_progress" in after


async def test_a_thousand_unknown_paths_add_one_path_value(client: httpx.AsyncClient) -> None:
    def paths(families: dict[str, list[tuple[dict[str, str], float]]]) -> set[str]:
        return {labels["path"] for labels, _ in families.get("fastapi_requests_total", [])}

    before = paths(await scrape(client))
    for _ in range(1000):
        assert (await client.get(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}")).status_code == 404
    added = paths(await scrape(client)) - before
    assert added <= {"<unmatched>"}
    assert "<unmatched>" in paths(await scrape(client))


async def test_openmetrics_when_the_scraper_asks(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    plain = await client.get("/metrics")
    assert plain.headers["content-type"].startswith("text/plain")


async def test_tasks_are_counted_by_outcome_on_the_api_metrics_in_serve(
    user: UserClient, backend: str
) -> None:
    small = await user.upload_ok(encode(sample_rgb(), "PNG"))
    plain = await user.upload_ok(encode(Image.new("RGB", (400, 300)), "PNG"))
    before = await scrape(user.http)
    assert (await user.run(small["id"], {"operation": {"type": "grayscale"}}))["status"] == (
        "succeeded"
    )
    nothing = await user.run(plain["id"], {"operation": {"type": "remove_watermark"}})
    assert nothing["status"] == "failed"  # no watermark found
    after = await scrape(user.http)

    def grew(status: str) -> float:
        labels = {"task_name": "pix_erase.run_task", "status": status}
        return value(after.get("taskiq_tasks_total", []), **labels) - value(
            before.get("taskiq_tasks_total", []), **labels
        )

    if backend == "embedded":  # in `serve` the tasks run in the API process
        assert (grew("success"), grew("error")) == (1, 1)
        assert value(after["taskiq_tasks_duration_seconds_count"]) >= 2
    else:  # in production they run in the worker, which has its own /metrics
        assert (grew("success"), grew("error")) == (0, 0)
