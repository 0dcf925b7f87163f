"""Queries of images: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Uuid, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.images.models import Image

# Every image request runs these: built once (building costs more than running them).
_GET = select(Image).where(Image.id == bindparam("image_id"))
_GET_OWNED = select(Image).where(
    Image.id == bindparam("image_id"), Image.owner_id == bindparam("owner", type_=Uuid())
)


class ImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, image: Image) -> Image:
        self.session.add(image)
        await self.session.flush()
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
