"""Pipeline steps as pure data (pydantic v2 models).

The HTTP API reuses these models as its request-body schema, so every constraint lives in
a ``Field`` (a bad parameter becomes a ``ValidationError``, which the API turns into a 422)
and every field carries a description for OpenAPI. Nothing here touches pixels.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DIMENSION = 20_000
MAX_SCALE = 4.0


class Rotate(BaseModel):
    """Rotate the image counter-clockwise by ``angle`` degrees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class Grayscale(BaseModel):
    """Convert to gray, keeping any alpha channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["grayscale"] = Field(description='Step type, always "grayscale".')


class Resize(BaseModel):
    """Resize with Lanczos resampling, by a scale factor or to a box."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


class Convert(BaseModel):
    """Choose the output format, its quality and whether metadata is kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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


Step = Annotated[Rotate | Grayscale | Resize | Convert, Field(discriminator="type")]
