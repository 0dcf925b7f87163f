"""Use cases of images: upload, read, delete, and submitting operations on them."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog

from pix_erase.container import Services
from pix_erase.errors import AppError, NotFound
from pix_erase.images.exif_reader import read_stored_exif
from pix_erase.images.keys import image_key, render_prefix
from pix_erase.images.models import Image
from pix_erase.images.operations import CheckContext, OperationSpec, spec_for, spec_of
from pix_erase.images.operations.pipeline import KIND as PIPELINE
from pix_erase.images.operations.pipeline import check_pipeline, pipeline_params
from pix_erase.images.operations.watermark_batch import BatchWatermarkRequest
from pix_erase.images.repository import ImageRepository
from pix_erase.images.schemas import OperationRequest
from pix_erase.images.uploads import Received
from pix_erase.platform.db import UnitOfWork
from pix_erase.processing import (
    ImageError,
    ImageInfo,
    PixelStep,
    inspect_image,
)
from pix_erase.tasks.models import Task
from pix_erase.tasks.service import TaskService
from pix_erase.users.auth import User

log = structlog.get_logger(__name__)
_TOO_LARGE = {"too_many_pixels", "too_many_frames"}


def image_error(exc: ImageError) -> AppError:
    return AppError(exc.code, exc.message, 413 if exc.code in _TOO_LARGE else 422)


class ImageService:
    def __init__(self, uow: UnitOfWork, services: Services) -> None:
        self.uow = uow
        self.services = services
        self.images = ImageRepository(uow.session)

    async def get(self, image_id: uuid.UUID) -> Image:
        """Any user's image: only for requests a signature already authorised."""
        image = await self.images.get(image_id)
        if image is None:
            raise NotFound("Image")
        return image

    async def get_owned(self, owner: User, image_id: uuid.UUID) -> Image:
        image = await self.images.get_owned(image_id, owner.id)
        if image is None:
            raise NotFound("Image")
        return image

    async def list(self, owner: User, limit: int, offset: int) -> tuple[Sequence[Image], int]:
        return await self.images.list_owned(owner.id, limit, offset)

    async def upload(self, owner: User, received: Received) -> Image:
        """Check the staged upload, store it and add its row; the staging file goes (the
        storage consumes it; if anything fails first, it is removed here)."""
        settings = self.services.settings.app
        staged = received.path
        try:
            try:
                info: ImageInfo = await self.services.quick_pool.run(
                    inspect_image,
                    str(staged),
                    max_pixels=settings.max_image_pixels,
                    max_frames=settings.max_image_frames,
                )
            except ImageError as exc:
                raise image_error(exc) from exc
            image = Image(
                id=uuid.uuid4(),
                owner_id=owner.id,
                format=info.format,
                content_type=info.content_type,
                width=info.width,
                height=info.height,
                bytes=received.size,
                sha256=received.sha256,
                original_filename=(received.filename or "")[:255] or None,
            )
            image.storage_key = image_key(owner.id, image.id)
            await self.services.storage.put_file(image.storage_key, staged, info.content_type)
        except BaseException:
            await asyncio.to_thread(staged.unlink, missing_ok=True)
            raise
        key = image.storage_key
        self.uow.on_rollback(lambda: self.services.storage.delete(key))
        return await self.images.insert(image)

    def content(self, image: Image) -> AsyncIterator[bytes]:
        return self.services.storage.stream(image.storage_key)

    async def exif(self, image: Image) -> dict[str, Any]:
        return await read_stored_exif(self.services, image)

    async def delete(self, image: Image) -> None:
        # The row goes in this transaction; the object once it has committed. If the
        # object's removal then fails, what is left is an unreachable object (logged as
        # `orphan_object`), never a row whose content is missing.
        await self.images.delete(image)
        key, renders = image.storage_key, render_prefix(image.owner_id, image.id)
        self.uow.after_commit(lambda: self._delete_objects(key, renders))

    async def _delete_objects(self, key: str, renders: str) -> None:
        storage = self.services.storage
        try:
            for render in await storage.list_keys(renders):
                await storage.delete(render)
            await storage.delete(key)
        except Exception:
            log.exception("orphan_object", storage_key=key)

    async def submit(self, owner: User, image: Image, request: OperationRequest) -> Task:
        operation = request.operation
        if isinstance(operation, PixelStep):
            steps = [operation]
        elif operation is not None:
            return await self._checked(owner, image, spec_of(operation), operation)
        else:
            assert request.steps is not None  # the request's validator saw to it
            steps = request.steps
        await check_pipeline(self._context(owner, image), steps)
        return await self._queue(owner, image, PIPELINE, pipeline_params(steps))

    def _context(self, owner: User, image: Image) -> CheckContext:
        return CheckContext(self.services, self.images, owner.id, image)

    async def submit_batch(self, owner: User, request: BatchWatermarkRequest) -> Task:
        first = await self.get_owned(owner, request.image_ids[0])
        return await self._checked(owner, first, spec_for("watermark_batch"), request)

    async def _checked(
        self, owner: User, image: Image, spec: OperationSpec[Any], params: Any
    ) -> Task:
        """Refuse now what the task could only fail on later (foreign ids, wrong sizes),
        then queue it."""
        if spec.check is not None:
            await spec.check(self._context(owner, image), params)
        return await self._queue(owner, image, spec.kind, params.model_dump(mode="json"))

    async def _queue(self, owner: User, image: Image, kind: str, params: dict[str, Any]) -> Task:
        return await TaskService(self.uow, self.services).queue(owner.id, image.id, kind, params)
