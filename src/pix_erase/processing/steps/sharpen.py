"""Unsharp mask: add back `amount` times the detail a Gaussian blur of `radius` removes.

Like Pillow's ImageFilter.UnsharpMask and GIMP's filter of that name; differences of at
most `threshold` levels are left alone, so flat areas and noise stay as they were. Only
colour is sharpened; alpha is kept as it was.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import ConfigDict, Field

from pix_erase.processing.formats import OutputFormat
from pix_erase.processing.pixels import Pixels, as_pixels, channels, has_alpha

from .base import PixelStep, Planned, Size


class Sharpen(PixelStep):
    """Sharpen with an unsharp mask."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "sharpen", "amount": 1.5, "radius": 2}]}
    )

    type: Literal["sharpen"] = Field(description='Step type, always "sharpen".')
    amount: float = Field(
        default=1.0,
        gt=0,
        le=5,
        allow_inf_nan=False,
        description="Strength, 0 < amount <= 5: 0.5 subtle, 1 clear, 2 strong.",
    )
    radius: float = Field(
        default=1.0,
        ge=0.1,
        le=50,
        allow_inf_nan=False,
        description="Gaussian blur radius (sigma) in pixels: the size of the detail sharpened.",
    )
    threshold: int = Field(
        default=0,
        ge=0,
        le=255,
        description="Leave pixels whose detail is at most this many levels (0 = sharpen all).",
    )

    def plan(self, size: Size, output: OutputFormat) -> Planned:
        return Planned(size, self.apply)

    def apply(self, pixels: Pixels) -> Pixels:
        if not has_alpha(pixels):
            return self._sharpen(pixels)
        colour = pixels[:, :, 0] if channels(pixels) == 2 else pixels[:, :, :-1]
        colour = np.ascontiguousarray(colour)
        return np.ascontiguousarray(np.dstack([self._sharpen(colour), pixels[:, :, -1]]))

    def _sharpen(self, colour: Pixels) -> Pixels:
        source = colour.astype(np.float32)
        detail = source - cv2.GaussianBlur(source, (0, 0), self.radius)
        if self.threshold > 0:
            detail[np.abs(detail) <= self.threshold] = 0
        return as_pixels(np.clip(source + self.amount * detail + 0.5, 0, 255).astype(np.uint8))
