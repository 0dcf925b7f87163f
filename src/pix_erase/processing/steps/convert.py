"""Choose the output format, quality and metadata policy; pixels are untouched.

`run_steps` reads the last Convert of a pipeline to decide how the result is written.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from pix_erase.processing.formats import OutputFormat

from .base import PixelStep, Planned, Size


class Convert(PixelStep):
    """Choose the output format, its quality and whether metadata is kept."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "convert", "format": "webp", "quality": 80}]}
    )

    type: Literal["convert"] = Field(description='Step type, always "convert".')
    format: Literal["jpeg", "png", "webp", "avif", "heic"] = Field(
        description="Output format (heic only where pillow-heif is installed)."
    )
    quality: int = Field(
        default=85,
        ge=1,
        le=100,
        description="Encoder quality 1..100 for lossy formats (ignored for PNG).",
    )
    strip_metadata: bool = Field(
        default=False,
        description="Drop EXIF and the ICC colour profile from the result.",
    )

    progress_weight = 0.0

    def plan(self, size: Size, output: OutputFormat) -> Planned:
        return Planned(size, None)
