"""Resize with Lanczos resampling, by a scale factor or to a box."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from pix_erase.processing.formats import OutputFormat
from pix_erase.processing.transforms import ResizePlan, resize

from .base import DecodeHint, PixelStep, Planned, Size

MAX_DIMENSION = 20_000
MAX_SCALE = 4.0


class Resize(PixelStep):
    """Resize with Lanczos resampling, by a scale factor or to a box."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "resize", "width": 160}]})

    type: Literal["resize"] = Field(description='Step type, always "resize".')
    width: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DIMENSION,
        description="Target width in pixels; alone, the height follows the aspect ratio.",
    )
    height: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DIMENSION,
        description="Target height in pixels; alone, the width follows the aspect ratio.",
    )
    scale: float | None = Field(
        default=None,
        gt=0,
        le=MAX_SCALE,
        allow_inf_nan=False,
        description="Scale factor (0 < scale <= 4), instead of width/height.",
    )
    fit: Literal["contain", "cover", "fill"] = Field(
        default="contain",
        description=(
            "How to use a width x height box: contain = fit inside it keeping the aspect "
            "ratio; cover = fill it keeping the aspect ratio, then crop the centre; "
            "fill = stretch to exactly the box. Ignored unless both width and height are set."
        ),
    )
    sharpen: float = Field(
        default=0.0,
        ge=0,
        le=5,
        allow_inf_nan=False,
        description=(
            "Unsharp-mask amount applied after resizing, 0..5 (0 = none, 0.5 = subtle, 2 = strong)."
        ),
    )

    @model_validator(mode="after")
    def _one_kind_of_target(self) -> Resize:
        has_box = self.width is not None or self.height is not None
        if self.scale is not None and has_box:
            raise ValueError("give either scale or width/height, not both")
        if self.scale is None and not has_box:
            raise ValueError("give scale, or width and/or height")
        return self

    def plan(self, size: Size, output: OutputFormat) -> Planned:
        plan = self.plan_resize(size)
        return Planned(
            plan.size,
            lambda pixels: resize(pixels, plan, sharpen=self.sharpen),
            # fit=cover resamples beyond the box, then crops
            peak=plan.scaled,
            # As the first step, a JPEG may decode at reduced scale, never below the target.
            decode=DecodeHint(at_least=plan.scaled),
        )

    def plan_resize(self, size: Size) -> ResizePlan:
        """The sizes this step produces from an image of `size`."""
        width, height = size

        def scaled(factor: float) -> Size:
            return max(1, round(width * factor)), max(1, round(height * factor))

        if self.scale is not None:
            return ResizePlan(scaled(self.scale))
        if self.height is None:
            assert self.width is not None  # the validator guarantees one of them
            return ResizePlan((self.width, scaled(self.width / width)[1]))
        if self.width is None:
            return ResizePlan((scaled(self.height / height)[0], self.height))
        box_w, box_h = self.width, self.height
        if self.fit == "fill":
            return ResizePlan((box_w, box_h))
        if self.fit == "contain":
            new_w, new_h = scaled(min(box_w / width, box_h / height))
            return ResizePlan((min(new_w, box_w), min(new_h, box_h)))
        new_w, new_h = scaled(max(box_w / width, box_h / height))
        new_w, new_h = max(new_w, box_w), max(new_h, box_h)
        crop = ((new_w - box_w) // 2, (new_h - box_h) // 2, box_w, box_h)
        return ResizePlan((new_w, new_h), crop)
