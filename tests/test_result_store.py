"""A task's result: its row is written in one statement only while the task runs; a
cancelled task or a deleted source leaves neither row nor object, and a task run again
finds what its first run stored."""

import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from pix_erase.errors import AppError
from pix_erase.images.models import Image
from pix_erase.images.operations.results import result_id, store_result
from pix_erase.platform.db import transaction
from pix_erase.processing import Encoded
from pix_erase.tasks.models import Task, TaskStatus
from tests.conftest import UserClient, encode, sample_rgb, services_of, stored_keys

RESULT = Encoded(b"\xff\xd8 not decoded here", "jpeg", "image/jpeg", 64, 48)


async def add_task(app: FastAPI, source: dict[str, str], status: TaskStatus) -> Task:
    """A task of the source's owner in `status`, as the worker sees it once started."""
    async with transaction(services_of(app).sessionmaker) as session:
        image = await session.get(Image, uuid.UUID(source["id"]))
        assert image is not None
        task = Task(
            owner_id=image.owner_id, image_id=image.id, kind="pipeline", params={}, status=status
        )
        session.add(task)
        await session.flush()
    return task


async def source_of(app: FastAPI, user: UserClient) -> tuple[dict[str, str], Image]:
    uploaded = await user.upload_ok(encode(sample_rgb()))
    async with services_of(app).sessionmaker() as session:
        image = await session.get(Image, uuid.UUID(uploaded["id"]))
    assert image is not None
    return uploaded, image


async def result_row(app: FastAPI, image_id: uuid.UUID) -> Image | None:
    async with services_of(app).sessionmaker() as session:
        return await session.scalar(select(Image).where(Image.id == image_id))


async def test_a_running_task_stores_its_result_once(app: FastAPI, user: UserClient) -> None:
    uploaded, source = await source_of(app, user)
    task = await add_task(app, uploaded, TaskStatus.running)
    services = services_of(app)
    image_id = await store_result(services, task, source, RESULT, "grayscale", "result")
    assert image_id == result_id(task.id)
    row = await result_row(app, image_id)
    assert row is not None
    assert (row.parent_id, row.owner_id, row.operation) == (source.id, source.owner_id, "grayscale")
    assert (row.bytes, row.width, row.height) == (len(RESULT.data), 64, 48)
    assert await services.storage.get_bytes(row.storage_key) == RESULT.data
    # Run again (delivered twice): the same image, not a second one.
    again = Encoded(b"other bytes", "jpeg", "image/jpeg", 64, 48)
    assert await store_result(services, task, source, again, "grayscale", "result") == image_id
    assert await services.storage.get_bytes(row.storage_key) == RESULT.data


@pytest.mark.parametrize("status", [TaskStatus.failed, TaskStatus.queued])
async def test_a_task_no_longer_running_stores_nothing(
    app: FastAPI, user: UserClient, status: TaskStatus
) -> None:
    uploaded, source = await source_of(app, user)
    task = await add_task(app, uploaded, status)  # e.g. cancelled by its owner meanwhile
    before = await stored_keys(app)
    with pytest.raises(AppError) as refused:
        await store_result(services_of(app), task, source, RESULT, "grayscale", "result")
    assert refused.value.code == "cancelled"
    assert await result_row(app, result_id(task.id)) is None
    assert await stored_keys(app) == before


async def test_a_deleted_source_stores_nothing(app: FastAPI, user: UserClient) -> None:
    uploaded, source = await source_of(app, user)
    task = await add_task(app, uploaded, TaskStatus.running)
    assert (await user.delete(f"/api/v1/images/{uploaded['id']}")).status_code == 204
    before = await stored_keys(app)
    with pytest.raises(AppError) as refused:
        await store_result(services_of(app), task, source, RESULT, "grayscale", "result")
    assert refused.value.code == "source_deleted"
    assert await result_row(app, result_id(task.id)) is None
    assert await stored_keys(app) == before
