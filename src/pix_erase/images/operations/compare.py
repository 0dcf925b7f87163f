"""compare: how close two images are (PSNR, SSIM, pHash) and where they differ."""

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pix_erase.container import Services
from pix_erase.images.operations.budget import WHOLE_IMAGE_OPERATION, pixels
from pix_erase.images.operations.params import EXAMPLE_ID
from pix_erase.images.operations.registry import CheckContext, OperationSpec
from pix_erase.images.operations.results import read_image, store_result
from pix_erase.processing import Comparison, compare_images
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task


class Compare(BaseModel):
    """Compare the image with another of your images: PSNR, SSIM, pHash distance, heat-map."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"type": "compare", "other_image_id": EXAMPLE_ID}]},
    )

    type: Literal["compare"]
    other_image_id: uuid.UUID = Field(description="Another image of yours.")


async def check(context: CheckContext, params: Compare) -> None:
    other = await context.own(params.other_image_id)
    both = pixels(context.image) + pixels(other)
    context.require_memory(both * WHOLE_IMAGE_OPERATION, "Comparing these images")


async def run_compare(services: Services, task: Task, progress: ProgressCallback) -> dict[str, Any]:
    params = Compare.model_validate(task.params)
    source, first = await read_image(services, task, task.image_id)
    _, second = await read_image(services, task, params.other_image_id)
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


SPECS = (OperationSpec(params=Compare, kind="compare", handler=run_compare, check=check),)
