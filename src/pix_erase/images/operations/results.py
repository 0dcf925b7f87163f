"""How a handler reads its task's images and stores what it made.

A result's id derives from its task's id, so a task delivered twice writes the same
object and row again instead of a duplicate.
"""

import asyncio
import hashlib
import uuid
from typing import NoReturn

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.images.keys import image_key
from pix_erase.images.models import Image
from pix_erase.images.naming import result_filename
from pix_erase.images.repository import ImageRepository
from pix_erase.platform.db import autocommit
from pix_erase.processing import Encoded
from pix_erase.tasks.models import Task, TaskStatus

log = structlog.get_logger(__name__)


def result_id(task_id: uuid.UUID, name: str = "result") -> uuid.UUID:
    return uuid.uuid5(task_id, name)


async def load_image(
    services: Services, task: Task, image_id: uuid.UUID | None, what: str = "source"
) -> Image:
    """The task owner's image; fails the task with `{what}_deleted` when it is gone."""
    async with services.sessionmaker() as session:
        image = None
        if image_id is not None:
            image = await ImageRepository(session).get_owned(image_id, task.owner_id)
    if image is None:
        raise AppError(f"{what}_deleted", f"The {what} image was deleted before the task used it.")
    return image


async def read_image(
    services: Services, task: Task, image_id: uuid.UUID | None, what: str = "source"
) -> tuple[Image, bytes]:
    image = await load_image(services, task, image_id, what)
    return image, await services.storage.get_bytes(image.storage_key)


async def store_result(
    services: Services, task: Task, parent: Image, encoded: Encoded, operation: str, name: str
) -> uuid.UUID:
    """Write the object, then its row (idempotent: same id and key on a re-run).

    The row is written only while the task is still running (not cancelled) and its
    source still exists, checked by the statement that writes it; otherwise, or if the
    row cannot be written, the object goes too.
    """
    image_id = result_id(task.id, name)
    key = image_key(task.owner_id, image_id)
    async with services.sessionmaker() as session:
        if await ImageRepository(session).exists(image_id):
            return image_id  # an earlier run of this task stored it
    await services.storage.put_bytes(key, encoded.data, encoded.content_type)
    image = Image(
        id=image_id,
        owner_id=task.owner_id,
        parent_id=parent.id,
        operation=operation,
        format=encoded.format,
        content_type=encoded.content_type,
        width=encoded.width,
        height=encoded.height,
        bytes=len(encoded.data),
        sha256=hashlib.sha256(encoded.data).hexdigest(),
        storage_key=key,
        original_filename=result_filename(parent.original_filename, operation, encoded.format),
    )
    try:
        async with autocommit(services.sessionmaker) as session:
            if not await ImageRepository(session).insert_result(image, task.id):
                await _not_wanted(session, task)
    except BaseException as exc:
        await asyncio.shield(_forget(services, key))
        if isinstance(exc, IntegrityError):  # the source's row went between check and insert
            raise _source_deleted() from exc
        raise
    return image_id


async def _not_wanted(session: AsyncSession, task: Task) -> NoReturn:
    """Why the row was not written: the task stopped running, or else its source went."""
    row = await session.get(Task, task.id)
    if row is None or row.status != TaskStatus.running:
        raise AppError("cancelled", "The task was cancelled; its result was not stored.")
    raise _source_deleted()


def _source_deleted() -> AppError:
    return AppError(
        "source_deleted", "The source image was deleted while the task ran; nothing was stored."
    )


async def _forget(services: Services, key: str) -> None:
    try:
        await services.storage.delete(key)
    except Exception:
        log.exception("orphan_object", storage_key=key)  # the sweep will take it
