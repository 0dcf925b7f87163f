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
from pix_erase.images.naming import result_filename
from pix_erase.images.repository import ImageRepository
from pix_erase.images.schemas import Compare, Erase, RemoveBackground, RemoveWatermark
from pix_erase.images.service import image_key
from pix_erase.platform.db import transaction
from pix_erase.platform.pool import report_progress
from pix_erase.processing import (
    Comparison,
    Encoded,
    compare_images,
    erase,
    remove_background,
    remove_shared_watermark,
    remove_watermark,
    run_steps,
)
from pix_erase.processing.operations import Step
from pix_erase.tasks.models import Task

_steps = TypeAdapter(list[Step])
Progress = Callable[[float], None]


def result_id(task_id: uuid.UUID, name: str = "result") -> uuid.UUID:
    return uuid.uuid5(task_id, name)


async def _load_source(
    services: Services, task: Task, image_id: uuid.UUID | None, what: str = "source"
) -> Image:
    async with services.sessionmaker() as session:
        image = None
        if image_id is not None:
            image = await ImageRepository(session).get_owned(image_id, task.owner_id)
    if image is None:
        raise AppError(f"{what}_missing", f"The {what} image was deleted before the task ran.")
    return image


async def _read(services: Services, task: Task, image_id: uuid.UUID | None, what: str) -> bytes:
    image = await _load_source(services, task, image_id, what)
    return await services.storage.get_bytes(image.storage_key)


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
                    original_filename=result_filename(
                        parent.original_filename, operation, encoded.format
                    ),
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


async def run_erase(services: Services, task: Task, progress: Progress) -> dict[str, Any]:
    params = Erase.model_validate(task.params)
    source = await _load_source(services, task, task.image_id)
    data = await services.storage.get_bytes(source.storage_key)
    mask_png = None
    if params.mask_image_id is not None:
        mask_png = await _read(services, task, params.mask_image_id, "mask")
    strokes = [(stroke.points, stroke.radius) for stroke in params.strokes or []]
    encoded = await services.pool.run_with_progress(
        progress,
        erase,
        data,
        mask_png=mask_png,
        rects=params.rects,
        strokes=strokes or None,
        method=params.method,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    image_id = await store_result(services, task, source, encoded, "erase", "result")
    return {"image_id": str(image_id)}


async def run_remove_watermark(
    services: Services, task: Task, progress: Progress
) -> dict[str, Any]:
    params = RemoveWatermark.model_validate(task.params)
    source = await _load_source(services, task, task.image_id)
    data = await services.storage.get_bytes(source.storage_key)
    result, mask = await services.pool.run_with_progress(
        progress,
        remove_watermark,
        data,
        hint_rects=params.hint_rects,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    image_id = await store_result(services, task, source, result, "remove_watermark", "result")
    mask_id = await store_result(services, task, source, mask, "watermark_mask", "mask")
    return {"image_id": str(image_id), "mask_image_id": str(mask_id)}


async def run_remove_background(
    services: Services, task: Task, progress: Progress
) -> dict[str, Any]:
    params = RemoveBackground.model_validate(task.params)
    source = await _load_source(services, task, task.image_id)
    data = await services.storage.get_bytes(source.storage_key)
    hint = None
    if params.hint_mask_image_id is not None:
        hint = await _read(services, task, params.hint_mask_image_id, "mask")
    encoded = await services.pool.run_with_progress(
        progress,
        remove_background,
        data,
        method=params.method,
        rect=params.rect,
        hint_mask_png=hint,
        model_path=services.settings.app.bg_model_path,
        output_format=params.format,
        background=params.background,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    image_id = await store_result(services, task, source, encoded, "remove_background", "result")
    return {"image_id": str(image_id)}


async def run_watermark_batch(services: Services, task: Task, progress: Progress) -> dict[str, Any]:
    ids = [uuid.UUID(value) for value in task.params["image_ids"]]
    sources = [await _load_source(services, task, image_id) for image_id in ids]
    datas = [await services.storage.get_bytes(source.storage_key) for source in sources]
    results, mask = await services.pool.run_with_progress(
        progress,
        remove_shared_watermark,
        datas,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    items = []
    for index, (source, encoded) in enumerate(zip(sources, results, strict=True)):
        name = f"result-{index}"
        image_id = await store_result(services, task, source, encoded, "remove_watermark", name)
        items.append({"source_image_id": str(source.id), "image_id": str(image_id)})
    mask_id = await store_result(services, task, sources[0], mask, "watermark_mask", "mask")
    return {"items": items, "mask_image_id": str(mask_id)}


HANDLERS = {
    "pipeline": run_pipeline,
    "compare": run_compare,
    "erase": run_erase,
    "remove_watermark": run_remove_watermark,
    "remove_background": run_remove_background,
    "watermark_batch": run_watermark_batch,
}
