"""Queries of images: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence
from functools import cache

from sqlalchemy import Insert, Uuid, bindparam, delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, make_transient_to_detached

from pix_erase.images.models import Image
from pix_erase.platform.db import utcnow
from pix_erase.tasks.models import Task, TaskStatus

# Every image request runs these: built once (building costs more than running them).
_GET = select(Image).where(Image.id == bindparam("image_id"))
_GET_OWNED = select(Image).where(
    Image.id == bindparam("image_id"), Image.owner_id == bindparam("owner", type_=Uuid())
)
_INSERT = insert(Image)
_COLUMNS = frozenset(column.key for column in Image.__table__.columns)
_EXISTS = select(Image.id).where(Image.id == bindparam("image_id"))


@cache
def _insert_result() -> Insert:
    """A task's result: the row is written only while the task runs (a cancelled one
    stores nothing) and its parent exists, checked and written in one statement.

    Built at first use: a foreign key column's type is known once every table is.
    """
    columns = list(Image.__table__.columns)
    parent = aliased(Image)
    running = exists().where(
        Task.id == bindparam("task_id", type_=Uuid()), Task.status == TaskStatus.running
    )
    row = select(*(bindparam(column.key, type_=column.type) for column in columns))
    return insert(Image).from_select(
        [column.key for column in columns],
        row.where(running, exists().where(parent.id == bindparam("parent_id"))),
    )


class ImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, image: Image) -> Image:
        self.session.add(image)
        await self.session.flush()
        return image

    async def insert(self, image: Image) -> Image:
        """Write a new row, as `add` does, with one Core statement built once (no unit of
        work): for uploads, the most frequent insert. `image` becomes a detached copy of
        its row; every column must be set, `id` and `created_at` are when they are not."""
        if image.id is None:
            image.id = uuid.uuid4()
        if image.created_at is None:
            image.created_at = utcnow()
        values = {key: getattr(image, key) for key in _COLUMNS}
        for key in _COLUMNS - image.__dict__.keys():  # unset: None in the row, and here
            setattr(image, key, None)
        connection = await self.session.connection()
        await connection.execute(_INSERT, values)
        make_transient_to_detached(image)  # the row exists: never to be inserted again
        return image

    async def insert_result(self, image: Image, task_id: uuid.UUID) -> bool:
        """Write the result row of a running task, in one statement, if the task still runs
        and the row's parent still exists; whether it did. `image` as for `insert`."""
        if image.created_at is None:
            image.created_at = utcnow()
        values = {key: getattr(image, key) for key in _COLUMNS}
        connection = await self.session.connection()
        written = await connection.execute(_insert_result(), {**values, "task_id": task_id})
        return bool(getattr(written, "rowcount", 0))

    async def exists(self, image_id: uuid.UUID) -> bool:
        return await self.session.scalar(_EXISTS, {"image_id": image_id}) is not None

    async def get(self, image_id: uuid.UUID) -> Image | None:
        return await self.session.scalar(_GET, {"image_id": image_id})

    async def get_owned(self, image_id: uuid.UUID, owner_id: uuid.UUID) -> Image | None:
        return await self.session.scalar(_GET_OWNED, {"image_id": image_id, "owner": owner_id})

    async def list_owned(
        self, owner_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[Sequence[Image], int]:
        total = await self.session.scalar(
            select(func.count()).select_from(Image).where(Image.owner_id == owner_id)
        )
        rows = await self.session.scalars(
            select(Image)
            .where(Image.owner_id == owner_id)
            .order_by(Image.created_at.desc(), Image.id)
            .limit(limit)
            .offset(offset)
        )
        return rows.all(), total or 0

    async def delete(self, image: Image) -> None:
        await self.session.execute(delete(Image).where(Image.id == image.id))
