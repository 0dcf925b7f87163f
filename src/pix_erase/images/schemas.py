"""Request and response bodies of the image routes."""

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from pix_erase.processing.operations import Convert, Grayscale, Resize, Rotate, Step


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    format: str
    content_type: str
    width: int
    height: int
    bytes: int
    created_at: datetime
    parent_id: uuid.UUID | None
    operation: str | None
    filename: str | None = Field(
        None,
        validation_alias=AliasChoices("original_filename", "filename"),
        description="The uploaded file's name; for a result, one derived from its source's.",
    )


class Compare(BaseModel):
    """Compare the image with another of your images: PSNR, SSIM, pHash distance, heat-map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["compare"]
    other_image_id: uuid.UUID = Field(description="Another image of yours.")


MAX_SHAPES = 1000
COLOUR = r"^#[0-9a-fA-F]{6}$"

Rect = Annotated[
    tuple[
        Annotated[int, Field(ge=0)],
        Annotated[int, Field(ge=0)],
        Annotated[int, Field(ge=1)],
        Annotated[int, Field(ge=1)],
    ],
    Field(description="[x, y, width, height] in pixels of the image as displayed."),
]
Point = tuple[
    Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]
]


class Stroke(BaseModel):
    """A brush stroke: a polyline painted with round ends, `radius` pixels wide on each side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: list[Point] = Field(min_length=1, max_length=10_000)
    radius: float = Field(gt=0, le=1000, allow_inf_nan=False)


class Erase(BaseModel):
    """Erase what a mask covers and fill it in from its surroundings (inpainting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class RemoveWatermark(BaseModel):
    """Find text and overlay watermarks automatically and erase them.

    The task's `result.mask_image_id` is the mask used: correct it and call `erase`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["remove_watermark"]
    mode: Literal["auto"] = "auto"
    hint_rects: list[Rect] | None = Field(
        None, min_length=1, max_length=MAX_SHAPES, description="Look only inside these areas."
    )


class RemoveBackground(BaseModel):
    """Cut the subject out: the result has a transparent background (or `background`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


SingleOperation = Compare | Erase | RemoveWatermark | RemoveBackground
Operation = Annotated[
    Rotate | Grayscale | Resize | Convert | Compare | Erase | RemoveWatermark | RemoveBackground,
    Field(discriminator="type"),
]

MAX_STEPS = 8


class OperationRequest(BaseModel):
    """Either one `operation`, or a pipeline of `steps` (1..8) that yields one result image."""

    model_config = ConfigDict(extra="forbid")

    operation: Operation | None = None
    steps: list[Step] | None = Field(None, min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.operation is None) == (self.steps is None):
            raise ValueError("give exactly one of `operation` or `steps`")
        return self


MAX_BATCH = 50


class BatchWatermarkRequest(BaseModel):
    """2 to 50 of your images that carry the same watermark."""

    model_config = ConfigDict(extra="forbid")

    image_ids: list[uuid.UUID] = Field(min_length=2, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.image_ids)) != len(self.image_ids):
            raise ValueError("each image may appear once")
        return self


class TaskAccepted(BaseModel):
    task_id: uuid.UUID
    status: Literal["queued"] = "queued"
