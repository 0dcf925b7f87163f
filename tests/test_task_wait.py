"""`?wait=`: one request instead of a polling loop, on both backends.

In production the worker runs the task in another process and tells the API through
Redis that it ended; in `serve` the API runs it itself.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import UserClient, encode, sample_rgb, services_of

GRAY = {"operation": {"type": "grayscale"}}


async def upload(user: UserClient) -> str:
    return str((await user.upload_ok(encode(sample_rgb(64, 48))))["id"])


async def test_submit_with_wait_answers_200_with_the_finished_task(user: UserClient) -> None:
    image_id = await upload(user)
    response = await user.post(f"/api/v1/images/{image_id}/operations?wait=30", json=GRAY)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "succeeded"
    assert task["progress"] == 1.0
    result = await user.get(f"/api/v1/images/{task['result']['image_id']}")
    assert result.json()["parent_id"] == image_id


async def test_get_with_wait_answers_once_the_task_has_ended(user: UserClient) -> None:
    image_id = await upload(user)
    accepted = await user.post(f"/api/v1/images/{image_id}/operations", json=GRAY)
    assert accepted.status_code == 202
    task_id = accepted.json()["task_id"]
    task = (await user.get(f"/api/v1/tasks/{task_id}", params={"wait": 30})).json()
    assert task["status"] == "succeeded"


@contextmanager
def frozen_image_work(app: FastAPI) -> Iterator[None]:
    """SIGSTOP the pool processes of the in-process worker (`serve`), SIGCONT at the end:
    no task can end meanwhile."""
    pids = services_of(app).pool.pids()
    assert pids, "run a task first so the pool has processes"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_wait_that_runs_out_answers_the_current_state(
    user: UserClient, app: FastAPI
) -> None:
    image_id = await upload(user)
    await user.post(f"/api/v1/images/{image_id}/operations?wait=30", json=GRAY)  # pool up
    with frozen_image_work(app):
        response = await user.post(f"/api/v1/images/{image_id}/operations?wait=0.5", json=GRAY)
        assert response.status_code == 202  # not finished within the wait: as without it
        task_id = response.json()["task_id"]
        task = (await user.get(f"/api/v1/tasks/{task_id}", params={"wait": 0.5})).json()
        assert task["status"] in ("queued", "running")
    task = (await user.get(f"/api/v1/tasks/{task_id}", params={"wait": 30})).json()
    assert task["status"] == "succeeded"


@pytest.mark.parametrize("wait", ["-1", "31", "nan", "soon"])
async def test_wait_out_of_range_is_a_422(user: UserClient, wait: str) -> None:
    image_id = await upload(user)
    submitted = await user.post(f"/api/v1/images/{image_id}/operations?wait={wait}", json=GRAY)
    assert submitted.status_code == 422
    assert submitted.json()["code"] == "validation_error"


async def test_waiting_on_someone_elses_task_is_a_404(
    user: UserClient, client: httpx.AsyncClient
) -> None:
    from tests.conftest import signup_and_login

    image_id = await upload(user)
    task_id = (await user.post(f"/api/v1/images/{image_id}/operations", json=GRAY)).json()[
        "task_id"
    ]
    stranger = await signup_and_login(client)
    assert (await stranger.get(f"/api/v1/tasks/{task_id}?wait=5")).status_code == 404


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_cancelled_task_ends_the_wait_as_failed(user: UserClient, app: FastAPI) -> None:
    image_id = await upload(user)
    await user.post(f"/api/v1/images/{image_id}/operations?wait=30", json=GRAY)  # pool up
    with frozen_image_work(app):
        task_id = (await user.post(f"/api/v1/images/{image_id}/operations", json=GRAY)).json()[
            "task_id"
        ]
        cancelled = await user.post(f"/api/v1/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        task = (await user.get(f"/api/v1/tasks/{task_id}", params={"wait": 30})).json()
    assert task["status"] == "failed"
    assert task["error"]["code"] == "cancelled"
