"""Rotate by any angle; the canvas grows so no corner is cropped (unless asked)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from pix_erase.processing.formats import ALPHA_FORMATS, OutputFormat
from pix_erase.processing.pixels import TRANSPARENT, WHITE, parse_colour
from pix_erase.processing.transforms import rotate, rotated_size

from .base import PixelStep, Planned, Size


class Rotate(PixelStep):
    """Rotate the image counter-clockwise by `angle` degrees."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "rotate", "angle": 17}]})

    type: Literal["rotate"] = Field(description='Step type, always "rotate".')
    angle: float = Field(
        allow_inf_nan=False,
        description=(
            "Rotation in degrees, counter-clockwise (as in Pillow's Image.rotate); negative "
            "values turn clockwise. Multiples of 90 are exact and lossless."
        ),
    )
    expand: bool = Field(
        default=True,
        description=(
            "Grow the canvas so no corner is cropped; false keeps the original size "
            "and crops the corners."
        ),
    )
    fill: str | None = Field(
        default=None,
        pattern=r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$",
        description=(
            'Colour of the uncovered corners, "#rrggbb" or "#rrggbbaa". Default: transparent '
            "when the output format has alpha (PNG, WebP, AVIF, HEIC), white otherwise."
        ),
    )

    def plan(self, size: Size, output: OutputFormat) -> Planned:
        if self.fill is not None:
            fill = parse_colour(self.fill)
        else:
            fill = TRANSPARENT if output in ALPHA_FORMATS else WHITE
        return Planned(
            rotated_size(size, self.angle, self.expand),
            lambda pixels: rotate(pixels, self.angle, expand=self.expand, fill=fill),
        )
