"""Stopping `serve` and `worker` as terminals, systemd and docker do: signals to the whole
process group as well as to the main process. No stop loses a task or fails it; a task
that keeps killing its worker is given up after `TASK_MAX_ATTEMPTS`; the orphan sweep.

Work that must still be running when the signal comes is frozen with SIGSTOP.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pix_erase.setup.config import AppSettings, Settings, TaskSettings
from tests import test_faults as faults
from tests.backends import PixProcess, free_port
from tests.conftest import LIMITS, UserClient, services_of, settings_env
from tests.test_faults import GRAY, HEAVY, Workers, freeze_image_work, photo_png, submit, thaw

# The production fixtures of the fault tests (their own PostgreSQL, Redis and S3).
backends = faults.backends
fault_settings = faults.fault_settings
api = faults.api
user = faults.user
workers = faults.workers


class Serve:
    """`pix-erase serve` in its own process group, on an embedded data directory."""

    def __init__(self, data_dir: Path, log_dir: Path, **env: str) -> None:
        settings = Settings(app=AppSettings(data_dir=data_dir, **LIMITS))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = settings_env(settings) | env
        self.log_dir = log_dir
        self.runs = 0
        self.process = self.start()

    def start(self) -> PixProcess:
        if self.runs:
            self.process.stop()  # exited already: this closes its log
        self.runs += 1
        process = PixProcess(
            ["serve", "--port", str(self.port)], self.env, self.log_dir / f"serve-{self.runs}.log"
        )
        process.wait_ready(self.base)
        self.process = process
        return process


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    started = Serve(tmp_path / "data", tmp_path, SHUTDOWN_GRACE_SECONDS="60")
    yield started
    started.process.stop()


async def _user(base: str) -> UserClient:
    from tests.conftest import signup_and_login

    client = httpx.AsyncClient(base_url=base, timeout=60)
    return await signup_and_login(client)


async def _task(user: UserClient, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = (await user.get(f"/api/v1/tasks/{task_id}")).json()
    return task


async def _wait(user: UserClient, task_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(1800):
        task = await _task(user, task_id)
        if task["status"] in statuses:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task never reached {statuses}: {task}")


def _wait_exit(process: PixProcess, timeout: float) -> int:
    return process.process.wait(timeout=timeout)


async def test_ctrl_c_to_serve_s_group_lets_running_tasks_finish(serve: Serve) -> None:
    user = await _user(serve.base)
    source = await user.upload_ok(photo_png(400, 300))
    frozen = await freeze_image_work(user, serve.process)
    task_id = await submit(user, source["id"], HEAVY)
    await _wait(user, task_id, "running")
    os.killpg(serve.process.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    thaw(frozen)  # a pool process that took the SIGINT to heart would die now
    await asyncio.to_thread(_wait_exit, serve.process, 150)  # exits, by the signal
    serve.start()
    task = await _task(user, task_id)
    assert task["status"] == "succeeded", task  # finished within the grace, not crashed
    await user.http.aclose()


async def test_sigterm_to_serve_holds_the_grace_then_leaves_the_task_queued(
    tmp_path: Path,
) -> None:
    serve = Serve(tmp_path / "data", tmp_path, SHUTDOWN_GRACE_SECONDS="1")
    try:
        user = await _user(serve.base)
        source = await user.upload_ok(photo_png(400, 300))
        await freeze_image_work(user, serve.process)  # never thawed: the task cannot end
        task_id = await submit(user, source["id"], HEAVY)
        await _wait(user, task_id, "running")
        serve.process.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(_wait_exit, serve.process, 60)  # the grace, not forever
        assert "task_requeued" in serve.process.log()
        serve.start()  # the next start runs it
        task = await _wait(user, task_id, "succeeded", "failed")
        assert task["status"] == "succeeded", task
        await user.http.aclose()
    finally:
        serve.process.stop()


async def test_sigterm_to_the_worker_s_group_requeues_and_never_fails(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    source = await user.upload_ok(photo_png(400, 300), "photo.png")
    first = workers.start(SHUTDOWN_GRACE_SECONDS="0.5")
    frozen = await freeze_image_work(user, first)
    task_id = await submit(user, source["id"], HEAVY)
    await _wait(user, task_id, "running")
    os.killpg(first.process.pid, signal.SIGTERM)  # systemd KillMode=control-group
    thaw(frozen)
    assert await asyncio.to_thread(_wait_exit, first, 60) == 0
    assert (await _task(user, task_id))["status"] in ("queued", "running", "succeeded")
    workers.start()
    task = await _wait(user, task_id, "succeeded", "failed")
    assert task["status"] == "succeeded", task


async def test_a_task_that_kills_its_worker_every_time_is_given_up(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    from pix_erase.tasks.models import Task

    # Seconds of image work (27 MP out): each worker is killed long before it could end it.
    # (Not frozen with SIGSTOP: a new worker may take the task back before a warm-up task
    # has started its image process, and it would then run unfrozen.)
    source = await user.upload_ok(photo_png(2000, 1500), "photo.png")
    task_id = await submit(user, source["id"], HEAVY)
    for attempt in range(1, 3):  # TASK_MAX_ATTEMPTS=2: two workers die running it
        worker = workers.start(TASK_MAX_ATTEMPTS="2")
        for _ in range(1200):
            async with services_of(api).sessionmaker() as session:
                row = await session.get(Task, uuid.UUID(task_id))
                if row is not None and row.attempts == attempt:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"attempt {attempt} never started")
        worker.kill()  # SIGKILL to the group, as the OOM killer would
    workers.start(TASK_MAX_ATTEMPTS="2")
    task = await _wait(user, task_id, "succeeded", "failed")
    assert task["status"] == "failed"
    assert task["error"]["code"] == "too_many_attempts"


async def test_a_queued_task_cancelled_never_runs(
    user: UserClient, api: FastAPI, workers: Workers
) -> None:
    source = await user.upload_ok(photo_png(64, 48), "photo.png")
    task_id = await submit(user, source["id"], GRAY)  # no worker runs yet
    response = await user.post(f"/api/v1/tasks/{task_id}/cancel")
    assert response.status_code == 200
    assert response.json()["error"]["code"] == "cancelled"
    worker = workers.start()
    other = await submit(user, source["id"], GRAY)  # the worker passes the cancelled one
    await _wait(user, other, "succeeded")
    task = await _task(user, task_id)
    assert task["error"]["code"] == "cancelled"
    assert task["started_at"] is None
    assert "task_skipped" in worker.log()


async def test_the_sweep_deletes_only_old_unreferenced_objects(
    user: UserClient, api: FastAPI, fault_settings: Settings
) -> None:
    from pix_erase.images.sweep import sweep_orphans

    services = services_of(api)
    kept = await user.upload_ok(photo_png(64, 48), "kept.png")
    orphan = f"images/{user.user['id']}/orphan-{os.getpid()}"
    await services.storage.put_bytes(orphan, b"nobody's", "application/octet-stream")
    render = await user.get(f"/api/v1/images/{kept['id']}/render", params={"w": 16})
    assert render.status_code == 200
    gone = f"renders/{user.user['id']}/{uuid.uuid4()}/0123.png"  # its image was deleted
    await services.storage.put_bytes(gone, b"stale render", "image/png")
    assert await sweep_orphans(services) == []  # young: within SWEEP_GRACE_SECONDS
    env = settings_env(fault_settings) | {"SWEEP_GRACE_SECONDS": "0"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pix_erase", "sweep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    keys = await services.storage.list_keys("images/")
    assert orphan not in keys
    assert any(kept["id"] in key for key in keys)
    renders = await services.storage.list_keys("renders/")
    assert gone not in renders
    assert any(kept["id"] in key for key in renders)  # its image is there: kept


def test_tasks_settings_default() -> None:
    tasks = TaskSettings()
    assert tasks.max_attempts == 3
    assert tasks.time_limit_seconds == 600
