"""remove_watermark: find text and overlay watermarks with no mask, and erase them."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pix_erase.container import Services
from pix_erase.images.operations.budget import WHOLE_IMAGE_OPERATION, check_inside, pixels
from pix_erase.images.operations.params import MAX_SHAPES, Rect
from pix_erase.images.operations.registry import CheckContext, OperationSpec
from pix_erase.images.operations.results import read_image, store_result
from pix_erase.platform.pool import report_progress
from pix_erase.processing import WatermarkRemoval, remove_watermark_detailed
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task


class RemoveWatermark(BaseModel):
    """Find text and overlay watermarks automatically and erase them.

    The task's `result.mask_image_id` is the mask used: correct it and call `erase`.
    `result.confidence` (0..1) says how well one overlay explains what was removed; when
    nothing credible is found the task fails `no_watermark_found` and changes nothing.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"type": "remove_watermark"}]}
    )

    type: Literal["remove_watermark"]
    mode: Literal["auto"] = "auto"
    hint_rects: list[Rect] | None = Field(
        None, min_length=1, max_length=MAX_SHAPES, description="Look only inside these areas."
    )


async def check(context: CheckContext, params: RemoveWatermark) -> None:
    image = context.image
    for x, y, w, h in params.hint_rects or []:
        check_inside([(x, y), (x + w, y + h)], image, "A hint rectangle")
    context.require_memory(pixels(image) * WHOLE_IMAGE_OPERATION, "Finding watermarks here")


async def run_remove_watermark(
    services: Services, task: Task, progress: ProgressCallback
) -> dict[str, Any]:
    params = RemoveWatermark.model_validate(task.params)
    source, data = await read_image(services, task, task.image_id)
    found: WatermarkRemoval = await services.pool.run_with_progress(
        progress,
        remove_watermark_detailed,
        data,
        hint_rects=params.hint_rects,
        max_pixels=services.settings.app.max_image_pixels,
        progress=report_progress,
    )
    image_id = await store_result(
        services, task, source, found.result, "remove_watermark", "result"
    )
    mask_id = await store_result(services, task, source, found.mask, "watermark_mask", "mask")
    return {
        "image_id": str(image_id),
        "mask_image_id": str(mask_id),
        "confidence": round(found.confidence, 3),
        "marked_fraction": round(found.marked_fraction, 5),
    }


SPECS = (
    OperationSpec(
        params=RemoveWatermark,
        kind="remove_watermark",
        handler=run_remove_watermark,
        check=check,
    ),
)
