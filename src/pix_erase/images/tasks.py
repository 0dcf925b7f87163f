"""The image work a task does: read the source, run `processing` in the pool, store results.

Result image ids derive from the task id, so a task delivered twice writes the same
object and row again instead of a duplicate.
"""

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.images.models import Image
from pix_erase.images.repository import ImageRepository
from pix_erase.images.schemas import Compare
from pix_erase.images.service import image_key
from pix_erase.platform.db import transaction
from pix_erase.platform.pool import report_progress
from pix_erase.processing import Comparison, Encoded, compare_images, run_steps
from pix_erase.processing.operations import Step
from pix_erase.tasks.models import Task

_steps = TypeAdapter(list[Step])
Progress = Callable[[float], None]


def result_id(task_id: uuid.UUID, name: str = "result") -> uuid.UUID:
    return uuid.uuid5(task_id, name)


async def _load_source(services: Services, task: Task, image_id: uuid.UUID | None) -> Image:
    async with services.sessionmaker() as session:
        image = None
        if image_id is not None:
            image = await ImageRepository(session).get_owned(image_id, task.owner_id)
    if image is None:
        raise AppError("source_missing", "The source image was deleted before the task ran.")
    return image


async def store_result(
    services: Services, task: Task, parent: Image, encoded: Encoded, operation: str, name: str
) -> uuid.UUID:
    """Write the object, then its row (idempotent: same id and key on a re-run)."""
    image_id = result_id(task.id, name)
    key = image_key(task.owner_id, image_id)
    await services.storage.put_bytes(key, encoded.data, encoded.content_type)
    async with transaction(services.sessionmaker) as session:
        images = ImageRepository(session)
        if await images.get(image_id) is None:
            await images.add(
                Image(
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
                )
            )
    return image_id


async def run_pipeline(services: Services, task: Task, progress: Progress) -> dict[str, Any]:
    steps = _steps.validate_python(task.params["steps"])
    source = await _load_source(services, task, task.image_id)
    data = await services.storage.get_bytes(source.storage_key)
    encoded = await services.pool.run_with_progress(
        progress,
        run_steps,
        data,
        steps,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    operation = "+".join(step.type for step in steps)
    image_id = await store_result(services, task, source, encoded, operation, "result")
    return {"image_id": str(image_id)}


async def run_compare(services: Services, task: Task, progress: Progress) -> dict[str, Any]:
    params = Compare.model_validate(task.params)
    source = await _load_source(services, task, task.image_id)
    other = await _load_source(services, task, params.other_image_id)
    first = await services.storage.get_bytes(source.storage_key)
    second = await services.storage.get_bytes(other.storage_key)
    comparison: Comparison = await services.pool.run_with_progress(
        progress, compare_images, first, second, max_pixels=services.settings.app.max_image_pixels
    )
    heatmap_id = await store_result(
        services, task, source, comparison.heatmap, "compare", "heatmap"
    )
    return {
        "image_id": str(heatmap_id),
        "heatmap_image_id": str(heatmap_id),
        "psnr": comparison.psnr,
        "ssim": comparison.ssim,
        "phash_distance": comparison.phash_distance,
    }


HANDLERS = {"pipeline": run_pipeline, "compare": run_compare}
