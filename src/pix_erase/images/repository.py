"""Queries of images: statements in, models out; flushes, never commits."""

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pix_erase.images.models import Image


class ImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, image: Image) -> Image:
        self.session.add(image)
        await self.session.flush()
        return image

    async def get(self, image_id: uuid.UUID) -> Image | None:
        return await self.session.get(Image, image_id)

    async def get_owned(self, image_id: uuid.UUID, owner_id: uuid.UUID) -> Image | None:
        return await self.session.scalar(
            select(Image).where(Image.id == image_id, Image.owner_id == owner_id)
        )

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
