"""erase: fill in what a mask, rectangles or brush strokes cover (inpainting)."""

import uuid
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.images.operations.budget import WHOLE_IMAGE_OPERATION, check_inside, pixels
from pix_erase.images.operations.params import MAX_SHAPES, Rect, Stroke
from pix_erase.images.operations.registry import CheckContext, OperationSpec
from pix_erase.images.operations.results import read_image, store_result
from pix_erase.platform.pool import report_progress
from pix_erase.processing import erase
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task


class Erase(BaseModel):
    """Erase what a mask covers and fill it in from its surroundings (inpainting)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"type": "erase", "rects": [[10, 10, 120, 40]], "method": "telea"}]
        },
    )

    type: Literal["erase"]
    mask_image_id: uuid.UUID | None = Field(
        None, description="One of your images, the source's size: non-black pixels are erased."
    )
    rects: list[Rect] | None = Field(None, min_length=1, max_length=MAX_SHAPES)
    strokes: list[Stroke] | None = Field(None, min_length=1, max_length=MAX_SHAPES)
    method: Literal["telea", "ns", "best"] = Field(
        "telea", description="telea and ns: OpenCV, fast; best: slower, higher quality."
    )

    @model_validator(mode="after")
    def _one_mask(self) -> Self:
        given = [self.mask_image_id, self.rects, self.strokes]
        if sum(item is not None for item in given) != 1:
            raise ValueError("give exactly one of `mask_image_id`, `rects` or `strokes`")
        return self


MAX_STROKE_POINTS = 100_000  # over all strokes


async def check(context: CheckContext, params: Erase) -> None:
    """Masks must be the owner's and the source's size; shapes must lie near the picture
    (1e308 is no coordinate); the work must fit the memory budget."""
    if params.mask_image_id is not None:
        await context.own_mask(params.mask_image_id)
    image = context.image
    for x, y, w, h in params.rects or []:
        check_inside([(x, y), (x + w, y + h)], image, "A rectangle")
    strokes = params.strokes or []
    if sum(len(stroke.points) for stroke in strokes) > MAX_STROKE_POINTS:
        raise AppError(
            "too_many_points", f"Strokes may have {MAX_STROKE_POINTS:,} points in all.", 422
        )
    for stroke in strokes:
        check_inside(stroke.points, image, "A stroke")
        if stroke.radius > max(image.width, image.height):
            raise AppError("shape_outside_image", "A stroke's radius exceeds the image.", 422)
    context.require_memory(pixels(image) * WHOLE_IMAGE_OPERATION, "Erasing this image")


async def run_erase(services: Services, task: Task, progress: ProgressCallback) -> dict[str, Any]:
    params = Erase.model_validate(task.params)
    source, data = await read_image(services, task, task.image_id)
    mask_png = None
    if params.mask_image_id is not None:
        _, mask_png = await read_image(services, task, params.mask_image_id, "mask")
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


SPECS = (OperationSpec(params=Erase, kind="erase", handler=run_erase, check=check),)
