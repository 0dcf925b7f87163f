"""What a pipeline step is: a parameter model that plans its output size and its pixels.

A step is planned from the image's size before any pixel is decoded (so an oversized
result is refused before it is allocated) and then applied to the decoded pixels. Every
subclass of `PixelStep` in this package is a step: `run_steps` and the API find it
there, so adding a step is adding one module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from pix_erase.processing.formats import OutputFormat
from pix_erase.processing.pixels import Pixels

Size = tuple[int, int]


@dataclass(frozen=True)
class DecodeHint:
    """How the decoder may prepare for the first step that touches pixels."""

    at_least: Size | None = None  # a JPEG may decode at reduced scale, not below this
    gray: bool = False  # a colour JPEG may decode its luma plane only


@dataclass(frozen=True)
class Planned:
    """A step planned for one image: the size it produces and how it changes pixels."""

    size: Size
    apply: Callable[[Pixels], Pixels] | None  # None: the step does not touch pixels
    peak: Size | None = None  # a larger intermediate image, when the step makes one
    decode: DecodeHint | None = None


class PixelStep(BaseModel):
    """Base of every pipeline step; subclasses set `type` to a one-value Literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    # Share of a pipeline's progress this step takes, relative to decode and encode (1.0).
    progress_weight: ClassVar[float] = 1.0

    def plan(self, size: Size, output: OutputFormat) -> Planned:
        """The step's effect on an image of `size` that will be written as `output`."""
        raise NotImplementedError
