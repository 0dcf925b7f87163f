"""run_steps: decode once, apply the steps in order, encode once.

The whole job is planned from the header before any pixel is decoded: the output format,
the size after every step (so an oversized result is refused before it is allocated) and
whether a JPEG can be decoded at reduced scale because the first step shrinks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .decoding import decode, open_source
from .encoding import Encoded, Metadata, encode
from .errors import ImageError
from .exif import exif_for_output
from .formats import (
    ALPHA_FORMATS,
    MAX_SIDE,
    OutputFormat,
    SourceFormat,
    heic_encoder_available,
)
from .formats import output_format_for as default_output_format
from .operations import Convert, Grayscale, Resize, Rotate, Step
from .phases import phase
from .pixels import RGBA, TRANSPARENT, WHITE, Pixels, parse_colour, size_of
from .transforms import ResizePlan, Size, grayscale, plan_resize, resize, rotate, rotated_size

# Quality when re-encoding without a Convert step: a little above Convert's default of
# 85, so that editing a photo (rotate, resize) does not visibly cost quality.
DEFAULT_QUALITY = 90


@dataclass(frozen=True)
class OutputPlan:
    format: OutputFormat
    quality: int
    keep_metadata: bool


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    size: Size  # after the step
    resize: ResizePlan | None = None
    fill: RGBA = WHITE


def run_steps(
    data: bytes,
    steps: Sequence[Step],
    *,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> Encoded:
    """Apply ``steps`` to the first frame of ``data`` and encode the result once.

    Pixels are decoded as displayed (EXIF orientation applied; GIF and other animations:
    first frame; palette, 16-bit and CMYK become 8-bit gray/RGB with or without alpha).

    Output format: the last Convert step's format if there is one; otherwise the source
    format for JPEG, PNG, WebP, AVIF and HEIC, and PNG for GIF, TIFF and BMP (HEIC falls
    back to JPEG where HEIC cannot be written). Alpha a format cannot store (JPEG) is
    composited over white; rotate's default fill is already white there. ICC profile and
    EXIF (Orientation reset to 1) are kept unless any Convert step has strip_metadata.
    Quality: the last Convert's, else 90.

    Raises ImageError: too_many_pixels (source), result_too_large (any step's planned
    output, checked before decoding), corrupt_image, unsupported_format, heic_unavailable.
    ``progress`` receives increasing fractions and finally 1.0.
    """
    source = open_source(data, max_pixels=max_pixels)
    output = plan_output(source.format, steps)
    planned = plan_steps(source.size, steps, output.format, max_pixels)
    report = _Progress(progress, total=len(planned) + 2)

    first = _first_pixel_step(planned)
    with phase("decode"):
        pixels = decode(
            source,
            at_least=first.resize.scaled if first and first.resize else None,
            gray=first is not None and isinstance(first.step, Grayscale),
        )
    report.advance()
    for item in planned:
        with phase(item.step.type):
            pixels = apply_step(pixels, item)
        report.advance()
    metadata = Metadata()
    if output.keep_metadata:
        exif = exif_for_output(source.exif, size_of(pixels)) if source.exif else None
        metadata = Metadata(icc=source.icc, exif=exif)
    with phase("encode"):
        encoded = encode(pixels, output.format, quality=output.quality, metadata=metadata)
    report.finish()
    return encoded


def plan_output(source_format: SourceFormat, steps: Sequence[Step]) -> OutputPlan:
    """Format, quality and metadata policy of the result (see run_steps)."""
    converts = [step for step in steps if isinstance(step, Convert)]
    keep = not any(step.strip_metadata for step in converts)
    if not converts:
        return OutputPlan(default_output_format(source_format), DEFAULT_QUALITY, keep)
    last = converts[-1]
    if last.format == "heic" and not heic_encoder_available():
        raise ImageError("heic_unavailable", "HEIC output is not available on this server.")
    return OutputPlan(last.format, last.quality, keep)


def plan_steps(
    size: Size, steps: Sequence[Step], output_format: OutputFormat, max_pixels: int
) -> list[PlannedStep]:
    """The size after each step; refuses a plan whose images would exceed the limits."""
    planned: list[PlannedStep] = []
    for step in steps:
        if isinstance(step, Rotate):
            if step.fill is not None:
                fill = parse_colour(step.fill)
            else:
                fill = TRANSPARENT if output_format in ALPHA_FORMATS else WHITE
            size = rotated_size(size, step.angle, step.expand)
            planned.append(PlannedStep(step, size, fill=fill))
        elif isinstance(step, Resize):
            plan = plan_resize(size, step)
            _check_size(plan.scaled, max_pixels)  # cover resizes beyond the box, then crops
            size = plan.size
            planned.append(PlannedStep(step, size, resize=plan))
        else:
            planned.append(PlannedStep(step, size))
        _check_size(size, max_pixels)
    if max(size) > MAX_SIDE[output_format]:
        raise ImageError(
            "result_too_large",
            f"{output_format.upper()} images can be at most {MAX_SIDE[output_format]} pixels "
            f"on a side; the result would be {size[0]}x{size[1]}.",
        )
    return planned


def _check_size(size: Size, max_pixels: int) -> None:
    if size[0] * size[1] > max_pixels:
        raise ImageError(
            "result_too_large",
            f"The result would be {size[0]}x{size[1]} pixels; the limit is {max_pixels:,}.",
        )


def _first_pixel_step(planned: Sequence[PlannedStep]) -> PlannedStep | None:
    """The first step that touches pixels: the decoder can prepare for it (a Resize lets
    a JPEG decode at reduced scale, a Grayscale lets it decode only the luma plane)."""
    for item in planned:
        if not isinstance(item.step, Convert):  # a Convert only chooses how to encode
            return item
    return None


def apply_step(pixels: Pixels, item: PlannedStep) -> Pixels:
    step = item.step
    if isinstance(step, Rotate):
        return rotate(pixels, step.angle, expand=step.expand, fill=item.fill)
    if isinstance(step, Grayscale):
        return grayscale(pixels)
    if isinstance(step, Resize):
        assert item.resize is not None
        return resize(pixels, item.resize, sharpen=step.sharpen)
    return pixels  # Convert only chooses how the result is written


class _Progress:
    """Reports completed work as a fraction, increasing, ending at exactly 1.0."""

    def __init__(self, callback: Callable[[float], None] | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._done = 0

    def advance(self) -> None:
        self._done += 1
        if self._callback is not None and self._done < self._total:
            self._callback(self._done / self._total)

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(1.0)
