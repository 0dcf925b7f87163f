"""Use cases of images: upload, read, delete, and submitting operations on them."""

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from pix_erase.container import Services
from pix_erase.dependencies import UnitOfWork
from pix_erase.errors import AppError, NotFound
from pix_erase.images.models import Image
from pix_erase.images.repository import ImageRepository
from pix_erase.images.schemas import (
    Compare,
    Erase,
    OperationRequest,
    RemoveBackground,
    SingleOperation,
)
from pix_erase.platform.broker import enqueue_task
from pix_erase.processing import ImageError, ImageInfo, inspect_image, read_exif
from pix_erase.processing.operations import Convert, Resize, Step
from pix_erase.processing.pipeline import run_steps
from pix_erase.tasks.models import Task, TaskStatus
from pix_erase.tasks.repository import TaskRepository
from pix_erase.users.models import User

CHUNK = 1024 * 1024
log = structlog.get_logger(__name__)
_TOO_LARGE = {"too_many_pixels", "too_many_frames"}


def image_key(owner_id: uuid.UUID, image_id: uuid.UUID) -> str:
    return f"images/{owner_id}/{image_id}"


def image_error(exc: ImageError) -> AppError:
    return AppError(exc.code, exc.message, 413 if exc.code in _TOO_LARGE else 422)


def _copy_limited(src: BinaryIO, dest: Path, limit: int) -> tuple[int, str]:
    """Copy an upload to `dest` chunk by chunk; stop as soon as it passes `limit` bytes."""
    size, digest = 0, hashlib.sha256()
    with dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise AppError(
                    "upload_too_large",
                    f"The file is larger than the limit of {limit} bytes.",
                    413,
                    details={"max_bytes": limit},
                )
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise AppError("empty_upload", "The uploaded file is empty.", 422)
    return size, digest.hexdigest()


class ImageService:
    def __init__(self, uow: UnitOfWork, services: Services) -> None:
        self.uow = uow
        self.services = services
        self.images = ImageRepository(uow.session)

    async def get_owned(self, owner: User, image_id: uuid.UUID) -> Image:
        image = await self.images.get_owned(image_id, owner.id)
        if image is None:
            raise NotFound("Image")
        return image

    async def list(self, owner: User, limit: int, offset: int) -> tuple[Sequence[Image], int]:
        return await self.images.list_owned(owner.id, limit, offset)

    async def upload(self, owner: User, file: BinaryIO, filename: str | None) -> Image:
        settings = self.services.settings.app
        staged = self.services.upload_dir / uuid.uuid4().hex
        try:
            size, sha256 = await asyncio.to_thread(
                _copy_limited, file, staged, settings.max_upload_bytes
            )
            try:
                info: ImageInfo = await self.services.pool.run(
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
                bytes=size,
                sha256=sha256,
                original_filename=(filename or "")[:255] or None,
            )
            image.storage_key = image_key(owner.id, image.id)
            await self.services.storage.put_file(image.storage_key, staged, info.content_type)
        finally:
            await asyncio.to_thread(staged.unlink, missing_ok=True)
        key = image.storage_key
        self.uow.on_rollback(lambda: self.services.storage.delete(key))
        return await self.images.add(image)

    def content(self, image: Image) -> AsyncIterator[bytes]:
        return self.services.storage.stream(image.storage_key)

    async def exif(self, image: Image) -> dict[str, Any]:
        data = await self.services.storage.get_bytes(image.storage_key)
        return await self.services.pool.run(read_exif, data)

    async def preview(self, image: Image, size: int) -> bytes:
        """A WebP at most `size` pixels on its longer side (never enlarged), made in the
        process pool; large JPEGs are shrunk while they load."""
        steps: list[Step] = []
        if max(image.width, image.height) > size:
            steps.append(Resize(type="resize", width=size, height=size, fit="contain"))
        steps.append(Convert(type="convert", format="webp", quality=80, strip_metadata=True))
        data = await self.services.storage.get_bytes(image.storage_key)
        max_pixels = self.services.settings.app.max_image_pixels
        try:
            encoded = await self.services.pool.run(run_steps, data, steps, max_pixels=max_pixels)
        except ImageError as exc:
            raise image_error(exc) from exc
        return encoded.data

    async def delete(self, image: Image) -> None:
        # The row goes in this transaction; the object once it has committed. If the
        # object's removal then fails, what is left is an unreachable object (logged as
        # `orphan_object`), never a row whose content is missing.
        await self.images.delete(image)
        key = image.storage_key
        self.uow.after_commit(lambda: self._delete_object(key))

    async def _delete_object(self, key: str) -> None:
        try:
            await self.services.storage.delete(key)
        except Exception:
            log.exception("orphan_object", storage_key=key)

    async def submit(self, owner: User, image: Image, request: OperationRequest) -> Task:
        operation = request.operation
        kind: str
        if isinstance(operation, SingleOperation):
            await self._check_references(owner, image, operation)
            kind, params = operation.type, operation.model_dump(mode="json")
        else:
            steps = request.steps if request.steps is not None else [operation]
            kind = "pipeline"
            params = {"steps": [step.model_dump(mode="json") for step in steps if step]}
        return await self._queue(
            Task(owner_id=owner.id, image_id=image.id, kind=kind, params=params)
        )

    async def submit_batch(self, owner: User, image_ids: Sequence[uuid.UUID]) -> Task:
        for image_id in image_ids:
            await self.get_owned(owner, image_id)
        params = {"image_ids": [str(image_id) for image_id in image_ids]}
        return await self._queue(
            Task(owner_id=owner.id, image_id=image_ids[0], kind="watermark_batch", params=params)
        )

    async def _check_references(
        self, owner: User, image: Image, operation: SingleOperation
    ) -> None:
        """Refuse now what the task could only fail on later: foreign ids, wrong sizes."""
        if isinstance(operation, Compare):
            await self.get_owned(owner, operation.other_image_id)
        elif isinstance(operation, Erase) and operation.mask_image_id is not None:
            await self._same_size_mask(owner, image, operation.mask_image_id)
        elif isinstance(operation, RemoveBackground):
            if operation.hint_mask_image_id is not None:
                await self._same_size_mask(owner, image, operation.hint_mask_image_id)
            if operation.method == "model" and not self.services.settings.app.bg_model_path:
                raise AppError(
                    "model_not_configured",
                    "No background model is configured on this server "
                    "(PIX_ERASE_BG_MODEL_PATH); use method grabcut.",
                    422,
                )

    async def _same_size_mask(self, owner: User, image: Image, mask_id: uuid.UUID) -> None:
        mask = await self.get_owned(owner, mask_id)
        if (mask.width, mask.height) != (image.width, image.height):
            raise AppError(
                "mask_size_mismatch",
                f"The mask is {mask.width}x{mask.height}; "
                f"the image is {image.width}x{image.height}.",
                422,
            )

    async def _queue(self, task: Task) -> Task:
        task = await TaskRepository(self.uow.session).add(task)
        task_id = task.id
        self.uow.after_commit(lambda: self._enqueue(task_id))
        return task

    async def _enqueue(self, task_id: uuid.UUID) -> None:
        try:
            await enqueue_task(self.services.broker, task_id)
        except Exception as exc:
            async with self.services.sessionmaker() as session:
                task = await TaskRepository(session).get(task_id)
                if task is not None:
                    task.status = TaskStatus.failed
                    task.error_code = "broker_unavailable"
                    task.error_message = "The task could not be queued."
                    await session.commit()
            raise AppError(
                "broker_unavailable", "The task queue is unavailable; try again shortly.", 503
            ) from exc
