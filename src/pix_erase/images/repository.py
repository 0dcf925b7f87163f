"""Queries of images: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Uuid, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from pix_erase.images.models import Image
from pix_erase.platform.db import utcnow

# Every image request runs these: built once (building costs more than running them).
_GET = select(Image).where(Image.id == bindparam("image_id"))
_GET_OWNED = select(Image).where(
    Image.id == bindparam("image_id"), Image.owner_id == bindparam("owner", type_=Uuid())
)
_INSERT = insert(Image)
_COLUMNS = frozenset(column.key for column in Image.__table__.columns)


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
