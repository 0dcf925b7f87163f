"""remove-batch: learn the watermark several images share and remove it from each."""

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pix_erase.container import Services
from pix_erase.images.operations.budget import WHOLE_IMAGE_OPERATION, pixels
from pix_erase.images.operations.params import EXAMPLE_ID, EXAMPLE_ID2
from pix_erase.images.operations.registry import CheckContext, OperationSpec
from pix_erase.images.operations.results import load_image, store_result
from pix_erase.platform.lazy_files import FileSequence
from pix_erase.platform.pool import report_progress
from pix_erase.processing import BatchRemoval, remove_shared_watermark_detailed
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task

MAX_BATCH = 50


class BatchWatermarkRequest(BaseModel):
    """Learn the watermark 2 to 50 of your images share and remove it from each.

    `POST /api/v1/watermarks/remove-batch`; `result.items` has one entry per image, with
    its `method`: `joint` (learned from the set), `single` (the set's estimate did not fit
    it: found on its own) or `unchanged` (no mark found in it), and a `confidence`.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"image_ids": [EXAMPLE_ID, EXAMPLE_ID2]}]}
    )

    image_ids: list[uuid.UUID] = Field(min_length=2, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.image_ids)) != len(self.image_ids):
            raise ValueError("each image may appear once")
        return self


async def check(context: CheckContext, params: BatchWatermarkRequest) -> None:
    images = [await context.own(image_id) for image_id in params.image_ids]
    # The learning step holds every source's bytes and works on one decoded image at a time.
    estimate = sum(image.bytes + pixels(image) for image in images)
    estimate += max(pixels(image) for image in images) * WHOLE_IMAGE_OPERATION
    context.require_memory(estimate, f"Learning a watermark from {len(images)} images")


async def _download(services: Services, key: str, path: Path) -> None:
    """Copy one object to a local file chunk by chunk (never whole in memory)."""
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in services.storage.stream(key):
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)


async def run_watermark_batch(
    services: Services, task: Task, progress: ProgressCallback
) -> dict[str, Any]:
    params = BatchWatermarkRequest.model_validate(task.params)
    sources = [await load_image(services, task, image_id) for image_id in params.image_ids]
    # The sources go to the pool process as files it reads one by one, so this process
    # never holds their bytes (50 large JPEGs were 4 GB here).
    staging = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=services.upload_dir))
    try:
        paths = [staging / str(index) for index in range(len(sources))]
        for source, path in zip(sources, paths, strict=True):
            await _download(services, source.storage_key, path)
        removal: BatchRemoval = await services.pool.run_with_progress(
            progress,
            remove_shared_watermark_detailed,
            FileSequence(paths),
            max_pixels=services.settings.app.max_image_pixels,
            progress=report_progress,
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)
    items = []
    outcomes = zip(sources, removal.results, removal.items, strict=True)
    for index, (source, encoded, item) in enumerate(outcomes):
        name = f"result-{index}"
        image_id = await store_result(services, task, source, encoded, "remove_watermark", name)
        items.append(
            {
                "source_image_id": str(source.id),
                "image_id": str(image_id),
                "method": item.method,
                "confidence": round(item.confidence, 3),
            }
        )
    mask = removal.mask
    mask_id = await store_result(services, task, sources[0], mask, "watermark_mask", "mask")
    return {"items": items, "mask_image_id": str(mask_id)}


SPECS = (
    OperationSpec(
        params=BatchWatermarkRequest,
        kind="watermark_batch",
        handler=run_watermark_batch,
        check=check,
        submit=False,
    ),
)
