"""remove_background: cut the subject out (GrabCut, or an ONNX segmentation model)."""

import uuid
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pix_erase.container import Services
from pix_erase.errors import AppError
from pix_erase.images.operations.budget import WHOLE_IMAGE_OPERATION, check_inside, pixels
from pix_erase.images.operations.params import COLOUR, Rect
from pix_erase.images.operations.registry import CheckContext, OperationSpec
from pix_erase.images.operations.results import read_image, store_result
from pix_erase.platform.pool import report_progress
from pix_erase.processing import remove_background
from pix_erase.processing.progress import ProgressCallback
from pix_erase.tasks.models import Task


class RemoveBackground(BaseModel):
    """Cut the subject out: the result has a transparent background (or `background`)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"type": "remove_background", "rect": [20, 10, 200, 200]}]},
    )

    type: Literal["remove_background"]
    method: Literal["grabcut", "model"] = Field(
        "grabcut",
        description="grabcut (classical) or model (the ONNX model in PIX_ERASE_BG_MODEL_PATH).",
    )
    rect: Rect | None = Field(None, description="Where the subject is; default: all but a margin.")
    hint_mask_image_id: uuid.UUID | None = Field(
        None, description="One of your images, the source's size: white = subject, black = not."
    )
    format: Literal["png", "webp", "jpeg"] | None = Field(
        None, description="Output format; default PNG. JPEG has no alpha: give `background`."
    )
    background: str | None = Field(
        None, pattern=COLOUR, description='Colour behind the subject, "#rrggbb".'
    )

    @model_validator(mode="after")
    def _jpeg_needs_background(self) -> Self:
        if self.format == "jpeg" and self.background is None:
            raise ValueError("JPEG has no transparency: give a `background` colour")
        return self


async def check(context: CheckContext, params: RemoveBackground) -> None:
    image = context.image
    if params.rect is not None:
        x, y, w, h = params.rect
        check_inside([(x, y), (x + w, y + h)], image, "The rectangle")
    context.require_memory(pixels(image) * WHOLE_IMAGE_OPERATION, "Cutting out this image")
    if params.hint_mask_image_id is not None:
        await context.own_mask(params.hint_mask_image_id)
    if params.method == "model" and not context.services.settings.app.bg_model_path:
        raise AppError(
            "model_not_configured",
            "No background model is configured on this server "
            "(PIX_ERASE_BG_MODEL_PATH); use method grabcut.",
            422,
        )


async def run_remove_background(
    services: Services, task: Task, progress: ProgressCallback
) -> dict[str, Any]:
    params = RemoveBackground.model_validate(task.params)
    source, data = await read_image(services, task, task.image_id)
    hint = None
    if params.hint_mask_image_id is not None:
        _, hint = await read_image(services, task, params.hint_mask_image_id, "mask")
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


SPECS = (
    OperationSpec(
        params=RemoveBackground,
        kind="remove_background",
        handler=run_remove_background,
        check=check,
    ),
)
