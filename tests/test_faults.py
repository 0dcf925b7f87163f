"""Faults of production mode, with real processes: killed and stopped workers, Redis and
PostgreSQL going away and coming back.

These run on their own PostgreSQL, Redis and S3 servers and their own worker processes,
so stopping a server here disturbs no other test. Each test stands alone (any order, any
subset) and ends by checking that storage and database agree.

A test that must act while a task is in the middle of its work does not bet on the work
being slow: it freezes the worker's image process (SIGSTOP) before the task is sent, so
the task is certainly unfinished when the test acts, and thaws it (SIGCONT) when the test
wants it to go on.
"""

import asyncio
import io
import json
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from pix_erase.setup.config import Settings
from tests.backends import PixProcess, ProductionBackends
from tests.conftest import (
    UserClient,
    make_client,
    production_settings,
    running_app,
    settings_env,
)
from tests.conftest import signup_and_login as _signup

# A few seconds of image work on 2 cores.
HEAVY = {
    "steps": [
        {"type": "resize", "scale": 3},
        {"type": "rotate", "angle": 10},
        {"type": "convert", "format": "webp", "quality": 50},
    ]
}


@pytest.fixture(scope="module")
def backends() -> Iterator[ProductionBackends]:
    started = ProductionBackends()
    yield started
    started.close()


@pytest.fixture(scope="module")
def fault_settings(
    backends: ProductionBackends, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return production_settings(
        backends,
        tmp_path_factory.mktemp("faults"),
        max_upload_bytes=64 * 1024 * 1024,
        max_image_pixels=100_000_000,
    )


@pytest.fixture(scope="module")
async def api(fault_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(fault_settings, in_process_worker=False) as application:
        yield application


@pytest.fixture
async def user(api: FastAPI) -> AsyncIterator[UserClient]:
    async with make_client(api) as client:
        yield await _signup(client)


class Workers:
    """Starts `pix-erase worker` processes and makes sure none outlives the test."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.started: list[PixProcess] = []

    def start(self, **env: str) -> PixProcess:
        name = f"worker-{len(self.started)}.log"
        worker = PixProcess(
            ["worker", "--processes", "1"],
            settings_env(self.settings) | env,
            self.log_dir / name,
        )
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


@pytest.fixture
def workers(fault_settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(fault_settings, tmp_path)
    yield pool
    pool.stop_all()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def image_processes(worker: PixProcess) -> list[int]:
    """The worker's pool processes: the children of its multiprocessing fork server."""
    servers = [
        pid
        for pid in _children(worker.process.pid)
        if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    processes = [child for server in servers for child in _children(server)]
    assert processes, "the worker has no image process yet"
    return processes


async def freeze_image_work(user: UserClient, worker: PixProcess) -> list[int]:
    """Run one small task so the pool process exists, then SIGSTOP it: from now on no task
    of this worker can finish until `thaw` (its work waits in the pool's queue)."""
    small = await user.upload_ok(photo_png(64, 48), "warm-up.png")
    await wait_for_status(user, await submit(user, small["id"], GRAY), "succeeded")
    frozen = image_processes(worker)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    return frozen


def thaw(frozen: list[int]) -> None:
    for pid in frozen:
        os.kill(pid, signal.SIGCONT)


async def assert_no_orphans(api: FastAPI) -> None:
    """Every stored object has its row and every row its object."""
    from sqlalchemy import select

    from pix_erase.images.models import Image as ImageRow
    from tests.conftest import services_of

    services = services_of(api)
    async with services.sessionmaker() as session:
        keys_in_db = set((await session.scalars(select(ImageRow.storage_key))).all())
    assert keys_in_db == set(await services.storage.list_keys("images/"))


GRAY = {"operation": {"type": "grayscale"}}


def photo_png(width: int, height: int) -> bytes:
    noise = np.random.default_rng(3).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    return buffer.getvalue()


def stopped(worker: PixProcess) -> dict[str, Any]:
    """The worker's last log line, `worker_stopped`, as JSON."""
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    line: dict[str, Any] = next(
        line for line in reversed(lines) if line["event"] == "worker_stopped"
    )
    return line


def photo_jpeg() -> bytes:
    noise = np.random.default_rng(7).integers(0, 255, (1500, 2000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def submit(user: UserClient, image_id: str, body: dict[str, Any]) -> str:
    response = await user.post(f"/api/v1/images/{image_id}/operations", json=body)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def wait_for_status(user: UserClient, task_id: str, status: str) -> dict[str, Any]:
    for _ in range(1800):
        task: dict[str, Any] = (await user.get(f"/api/v1/tasks/{task_id}")).json()
        if task["status"] == status:
            return task
        assert task["status"] != "failed", task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task never reached {status}: {task}")


async def results_of(user: UserClient, source_id: str) -> list[dict[str, Any]]:
    images = (await user.get("/api/v1/images", params={"limit": 100})).json()["items"]
    return [image for image in images if image["parent_id"] == source_id]


async def test_a_killed_worker_task_is_finished_by_another_exactly_once(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    source = await user.upload_ok(photo_jpeg(), "photo.jpg")
    first = workers.start()
    await freeze_image_work(user, first)
    task_id = await submit(user, source["id"], HEAVY)
    await wait_for_status(user, task_id, "running")
    second = workers.start()
    first.kill()  # SIGKILL to the whole group, mid-task, as the OOM killer or a crash would

    task = await wait_for_status(user, task_id, "succeeded")
    assert len(await results_of(user, source["id"])) == 1
    assert task["result"]["image_id"] == (await results_of(user, source["id"]))[0]["id"]
    assert "broker_reclaimed" in second.log()
    await assert_no_orphans(api)


async def test_sigterm_requeues_what_it_cannot_finish_and_the_next_worker_does_it(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    source = await user.upload_ok(photo_jpeg(), "photo.jpg")
    first = workers.start(SHUTDOWN_GRACE_SECONDS="0.2")
    await freeze_image_work(user, first)
    task_id = await submit(user, source["id"], HEAVY)
    await wait_for_status(user, task_id, "running")
    assert await asyncio.to_thread(first.terminate, 30) == 0  # stops promptly, no hang
    assert stopped(first)["requeued"] == 1

    workers.start()
    await wait_for_status(user, task_id, "succeeded")
    assert len(await results_of(user, source["id"])) == 1
    await assert_no_orphans(api)


async def test_sigterm_lets_a_running_task_finish_within_the_grace(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    source = await user.upload_ok(photo_jpeg(), "photo.jpg")
    first = workers.start(SHUTDOWN_GRACE_SECONDS="120")
    frozen = await freeze_image_work(user, first)
    task_id = await submit(user, source["id"], HEAVY)
    await wait_for_status(user, task_id, "running")
    first.process.send_signal(signal.SIGTERM)  # the task cannot have finished: it is frozen
    thaw(frozen)
    assert await asyncio.to_thread(first.terminate, 150) == 0
    task = (await user.get(f"/api/v1/tasks/{task_id}")).json()
    assert task["status"] == "succeeded"  # finished before the worker exited
    assert stopped(first)["requeued"] == 0
    await assert_no_orphans(api)


async def test_a_worker_holds_two_tasks_per_image_process_and_leaves_the_rest_queued(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    worker = workers.start()  # one image process
    sources = [await user.upload_ok(photo_png(64, 48), f"{n}.png") for n in range(4)]
    frozen = await freeze_image_work(user, worker)
    try:
        ids = [await submit(user, source["id"], GRAY) for source in sources]
        # The first is in the (frozen) process, the second is ready for it; the others wait
        # in Redis, free for any other worker.
        await wait_for_status(user, ids[0], "running")
        await wait_for_status(user, ids[1], "running")
        for task_id in ids[2:]:
            assert (await user.get(f"/api/v1/tasks/{task_id}")).json()["status"] == "queued"
    finally:
        thaw(frozen)
    for task_id in ids:
        await wait_for_status(user, task_id, "succeeded")
    await assert_no_orphans(api)


async def test_a_task_storing_its_result_does_not_keep_the_next_one_queued(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    from sqlalchemy import text

    from tests.conftest import services_of

    sources = [await user.upload_ok(photo_png(64, 48), f"{n}.png") for n in range(3)]
    workers.start()  # one image process: it holds two tasks that still need it
    async with services_of(api).sessionmaker() as session:
        # Until this transaction ends, no task can add its result's row (reading images
        # and writing tasks still work): the first two tasks finish their image work and
        # then wait to store it.
        await session.execute(text("LOCK TABLE images IN SHARE MODE"))
        try:
            ids = [await submit(user, source["id"], GRAY) for source in sources]
            # The third starts although the first two still run: they no longer need the
            # image process, so it does not sit idle while a task waits in Redis.
            for task_id in ids:
                await wait_for_status(user, task_id, "running")
        finally:
            await session.rollback()
    for task_id in ids:
        await wait_for_status(user, task_id, "succeeded")
    await assert_no_orphans(api)


async def test_redis_down_then_back(
    user: UserClient, api: FastAPI, workers: Workers, backends: ProductionBackends
) -> None:
    source = await user.upload_ok(photo_jpeg(), "photo.jpg")
    workers.start()
    backends.redis.stop()
    try:
        ready = await user.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["details"]["broker"] == "unavailable"
        assert ready.json()["details"]["database"] == "ok"
        assert (await user.get("/health/live")).status_code == 200
        refused = await user.post(f"/api/v1/images/{source['id']}/operations", json=GRAY)
        assert refused.status_code == 503
        assert refused.json()["code"] == "broker_unavailable"
    finally:
        backends.redis.start()
    assert (await user.get("/health/ready")).status_code == 200
    task_id = await submit(user, source["id"], GRAY)
    await wait_for_status(user, task_id, "succeeded")  # the worker came back by itself
    await assert_no_orphans(api)


async def test_queued_work_survives_a_redis_restart(
    user: UserClient, api: FastAPI, workers: Workers, backends: ProductionBackends
) -> None:
    source = await user.upload_ok(photo_jpeg(), "photo.jpg")
    task_id = await submit(user, source["id"], GRAY)
    backends.redis.stop()  # no worker has taken it yet: it lives only in Redis
    backends.redis.start()
    workers.start()
    await wait_for_status(user, task_id, "succeeded")
    await assert_no_orphans(api)


async def test_postgres_down_then_back(
    user: UserClient, api: FastAPI, workers: Workers, backends: ProductionBackends
) -> None:
    source = await user.upload_ok(photo_jpeg(), "photo.jpg")
    workers.start()
    await asyncio.to_thread(backends.postgres.stop)
    try:
        ready = await user.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["details"]["database"] == "unavailable"
        assert (await user.get("/health/live")).status_code == 200
        me = await user.get("/api/v1/auth/me")
        assert me.status_code == 503
        assert me.json()["code"] == "service_unavailable"
        samples = [
            (sample.name, sample.labels)
            for family in text_string_to_metric_families((await user.get("/metrics")).text)
            for sample in family.samples
        ]
        assert any(
            name == "fastapi_exceptions_total" and labels["path"] == "/api/v1/auth/me"
            for name, labels in samples
        )
        assert any(
            name == "fastapi_requests_total"
            and labels["path"] == "/api/v1/auth/me"
            and labels["status_code"] == "503"
            for name, labels in samples
        )
    finally:
        await asyncio.to_thread(backends.postgres.start)
    assert (await user.get("/health/ready")).status_code == 200
    task_id = await submit(user, source["id"], GRAY)
    await wait_for_status(user, task_id, "succeeded")
    await assert_no_orphans(api)


async def test_a_database_connection_lost_in_use_counts_as_the_database_down(
    backends: ProductionBackends,
) -> None:
    from sqlalchemy import text

    from pix_erase.platform.db import create_engine
    from pix_erase.platform.faults import BACKEND_DOWN

    engine = create_engine(backends.postgres.url)
    try:
        async with engine.connect() as victim, engine.connect() as killer:
            pid = await victim.scalar(text("SELECT pg_backend_pid()"))
            running = asyncio.create_task(victim.execute(text("SELECT pg_sleep(60)")))
            state = text("SELECT state FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(1000):  # until the statement runs
                if await killer.scalar(state, {"pid": pid}) == "active":
                    break
                await asyncio.sleep(0.02)
            # As a server restart would: the connection dies in the middle of a statement.
            await killer.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            with pytest.raises(BACKEND_DOWN):  # a 503, or a task put back: never a 500
                await running
        async with engine.connect() as fresh:  # the pool replaced the lost connection
            assert await fresh.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_a_large_upload_goes_to_s3_in_parts_and_comes_back_whole(
    user: UserClient, api: FastAPI, fault_settings: Settings
) -> None:
    from aiobotocore.session import get_session

    from pix_erase.platform.s3_storage import PART_SIZE
    from tests.conftest import services_of

    noise = np.random.default_rng(11).integers(0, 255, (1800, 2400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", compress_level=0)
    data = buffer.getvalue()
    assert len(data) > 1.5 * PART_SIZE  # more than one part
    image = await user.upload_ok(data, "big.png")
    assert image["bytes"] == len(data)
    assert await user.content(image["id"]) == data
    key = next(k for k in await services_of(api).storage.list_keys("images/") if image["id"] in k)
    storage = fault_settings.storage
    async with get_session().create_client(
        "s3",
        endpoint_url=storage.endpoint_url,
        region_name=storage.region,
        aws_access_key_id=storage.access_key_id,
        aws_secret_access_key="test-secret",  # moto checks no credentials
    ) as s3:
        head = await s3.head_object(Bucket=storage.bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-2")  # S3's mark of a 2-part upload
