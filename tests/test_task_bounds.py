"""Bounds on tasks, in `serve`'s embedded mode with an app of its own (small limits).

Work that must still be running when the test acts is frozen with SIGSTOP (the pool's
processes), never assumed slow; the test thaws it (SIGCONT) or lets the service kill it.
"""

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from pix_erase.setup.config import AppSettings, Settings, TaskSettings
from tests.conftest import (
    LIMITS,
    UserClient,
    make_client,
    running_app,
    services_of,
    signup_and_login,
)
from tests.test_faults import GRAY, photo_png

MiB = 1024 * 1024


@pytest.fixture(scope="module")
async def bounded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    settings = Settings(
        app=AppSettings(data_dir=tmp_path_factory.mktemp("bounds"), **{**LIMITS, "processes": 1}),
        tasks=TaskSettings(
            time_limit_seconds=5,
            max_active_per_user=3,
            memory_budget_bytes=512 * MiB,
        ),
    )
    async with running_app(settings, in_process_worker=True) as application:
        yield application


@pytest.fixture
async def user(bounded: FastAPI) -> AsyncIterator[UserClient]:
    async with make_client(bounded) as client:
        yield await signup_and_login(client)


class Frozen:
    """The image pool's processes, stopped: no job of it can end until `thaw`."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def thaw(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def alive(self) -> list[int]:
        return [pid for pid in self.pids if Path(f"/proc/{pid}").exists()]


async def freeze(app: FastAPI, user: UserClient) -> Frozen:
    small = await user.upload_ok(photo_png(32, 24), "warm-up.png")
    assert (await user.run(small["id"], GRAY))["status"] == "succeeded"
    pids = services_of(app).pool.pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return Frozen(pids)


async def submit(user: UserClient, image_id: str, body: dict[str, Any]) -> str:
    response = await user.post(f"/api/v1/images/{image_id}/operations", json=body)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def wait_status(user: UserClient, task_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(1200):
        task: dict[str, Any] = (await user.get(f"/api/v1/tasks/{task_id}")).json()
        if task["status"] in statuses:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task never reached {statuses}: {task}")


async def test_a_task_over_its_time_limit_fails_and_its_process_is_replaced(
    bounded: FastAPI, user: UserClient
) -> None:
    source = await user.upload_ok(photo_png(64, 48))
    frozen = await freeze(bounded, user)
    try:
        task = await wait_status(user, await submit(user, source["id"], GRAY), "failed")
        assert task["error"]["code"] == "task_timeout"
        assert frozen.alive() == []  # killed, not left stopped
    finally:
        frozen.thaw()
    assert (await user.run(source["id"], GRAY))["status"] == "succeeded"  # a fresh process


async def test_cancel_stops_a_running_task_and_stores_nothing(
    bounded: FastAPI, user: UserClient
) -> None:
    source = await user.upload_ok(photo_png(64, 48))
    frozen = await freeze(bounded, user)
    try:
        task_id = await submit(user, source["id"], GRAY)
        await wait_status(user, task_id, "running")
        async with make_client(bounded) as other_client:
            other = await signup_and_login(other_client)
            assert (await other.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 404
        response = await user.post(f"/api/v1/tasks/{task_id}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "failed"
        assert response.json()["error"]["code"] == "cancelled"
        for _ in range(600):  # the worker notices and kills the job's process
            if not frozen.alive():
                break
            await asyncio.sleep(0.05)
        assert frozen.alive() == []
    finally:
        frozen.thaw()
    again = await user.post(f"/api/v1/tasks/{task_id}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "task_finished"
    task = (await user.get(f"/api/v1/tasks/{task_id}")).json()
    assert task["error"]["code"] == "cancelled"
    assert task["result"] is None
    images = (await user.get("/api/v1/images", params={"limit": 100})).json()["items"]
    assert [i for i in images if i["parent_id"] == source["id"]] == []
    assert (await user.run(source["id"], GRAY))["status"] == "succeeded"


async def test_a_user_has_at_most_so_many_active_tasks_and_uploads_do_not_wait(
    bounded: FastAPI, user: UserClient
) -> None:
    source = await user.upload_ok(photo_png(64, 48))
    frozen = await freeze(bounded, user)
    try:
        tasks = [await submit(user, source["id"], GRAY) for _ in range(3)]
        refused = await user.post(f"/api/v1/images/{source['id']}/operations", json=GRAY)
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_active_tasks"
        assert int(refused.headers["retry-after"]) > 0
        # Upload checks and EXIF have a process of their own: the frozen pool holds none.
        uploaded = await asyncio.wait_for(user.upload(photo_png(400, 300), "photo.png"), 60)
        assert uploaded.status_code == 201, uploaded.text
        exif = await asyncio.wait_for(user.get(f"/api/v1/images/{source['id']}/exif"), 60)
        assert exif.status_code == 200
        for task_id in tasks:  # cancelled, or ended by the time limit meanwhile
            cancel = await user.post(f"/api/v1/tasks/{task_id}/cancel")
            assert cancel.status_code in (200, 409)
    finally:
        frozen.thaw()
    assert (await user.run(source["id"], GRAY))["status"] == "succeeded"


FAR = "shape_outside_image"
LONG_STROKE = {"points": [[5, 5]] * 10_000, "radius": 5}


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ({"type": "erase", "strokes": [{"points": [[1e308, 1e308]], "radius": 5}]}, FAR),
        ({"type": "erase", "rects": [[0, 0, 10**9, 10]]}, FAR),
        ({"type": "erase", "strokes": [LONG_STROKE] * 11}, "too_many_points"),
        ({"type": "remove_watermark", "hint_rects": [[900000, 0, 10, 10]]}, FAR),
        ({"type": "remove_background", "rect": [0, 900000, 10, 10]}, FAR),
    ],
)
async def test_absurd_shapes_are_refused_at_submission(
    user: UserClient, operation: dict[str, Any], code: str
) -> None:
    source = await user.upload_ok(photo_png(64, 48))
    response = await user.post(
        f"/api/v1/images/{source['id']}/operations", json={"operation": operation}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code


async def test_a_pipeline_over_the_memory_budget_is_refused_at_submission(
    user: UserClient,
) -> None:
    tiny = await user.upload_ok(photo_png(90, 90), "tiny.png")
    grow = [{"type": "resize", "scale": 4}] * 3  # 90x90 -> 5760x5760 (33 MP)
    response = await user.post(
        f"/api/v1/images/{tiny['id']}/operations",
        json={"steps": [*grow, {"type": "sharpen"}]},
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "over_memory_budget"
    assert body["details"]["estimated_bytes"] > body["details"]["budget_bytes"]
    too_big = await user.post(
        f"/api/v1/images/{tiny['id']}/operations", json={"steps": [*grow, *grow]}
    )
    assert too_big.status_code == 422
    assert too_big.json()["code"] == "result_too_large"
    # What fits is accepted.
    assert (await user.run(tiny["id"], {"steps": grow[:1]}))["status"] == "succeeded"


async def test_deleting_the_source_while_its_task_runs_stores_nothing(
    bounded: FastAPI, user: UserClient
) -> None:
    source = await user.upload_ok(photo_png(300, 200), "photo.png")
    frozen = await freeze(bounded, user)
    try:
        task_id = await submit(user, source["id"], {"operation": {"type": "grayscale"}})
        await wait_status(user, task_id, "running")
        assert (await user.delete(f"/api/v1/images/{source['id']}")).status_code == 204
    finally:
        frozen.thaw()
    task = await wait_status(user, task_id, "failed", "succeeded")
    assert task["status"] == "failed"
    assert task["error"]["code"] == "source_deleted"
    services = services_of(bounded)
    keys = set(await services.storage.list_keys("images/"))
    async with services.sessionmaker() as session:
        from sqlalchemy import select

        from pix_erase.images.models import Image as ImageRow

        rows = set((await session.scalars(select(ImageRow.storage_key))).all())
    assert keys == rows  # no orphan object
