"""Grayscale (Rec. 601 luma), keeping alpha."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from pix_erase.processing.formats import OutputFormat
from pix_erase.processing.transforms import grayscale

from .base import DecodeHint, PixelStep, Planned, Size


class Grayscale(PixelStep):
    """Convert to gray, keeping any alpha channel."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "grayscale"}]})

    type: Literal["grayscale"] = Field(description='Step type, always "grayscale".')

    def plan(self, size: Size, output: OutputFormat) -> Planned:
        # As the first step, a colour JPEG need only decode its luma plane.
        return Planned(size, grayscale, decode=DecodeHint(gray=True))
