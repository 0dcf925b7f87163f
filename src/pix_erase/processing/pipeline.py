"""run_steps: decode once, apply the steps in order, encode once.

The whole job is planned from the header before any pixel is decoded: the output format,
the size after every step (so an oversized result is refused before it is allocated) and
whether a JPEG can be decoded at reduced scale because the first step shrinks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .decoding import decode, open_source
from .encoding import Encoded, Metadata, encode
from .errors import ImageError
from .exif import exif_for_output
from .formats import MAX_SIDE, OutputFormat, SourceFormat, heic_encoder_available
from .formats import output_format_for as default_output_format
from .phases import phase
from .pixels import size_of
from .progress import Progress, ProgressCallback
from .steps import Convert, PixelStep, Planned

Size = tuple[int, int]

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
    step: PixelStep
    planned: Planned


def run_steps(
    data: bytes | Path,
    steps: Sequence[PixelStep],
    *,
    max_pixels: int,
    progress: ProgressCallback | None = None,
) -> Encoded:
    """Apply ``steps`` to the first frame of ``data`` (bytes, or a file's path) and encode
    the result once.

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
    if isinstance(data, Path):  # a local file: read here, not sent through the pool's pipe
        data = data.read_bytes()
    source = open_source(data, max_pixels=max_pixels)
    output = plan_output(source.format, steps)
    planned = plan_steps(source.size, steps, output.format, max_pixels)
    # Decode and encode weigh 1 each; every step its own weight.
    weights = [1.0, *(item.step.progress_weight for item in planned), 1.0]
    report = Progress(progress)
    done, total = 0.0, sum(weights)

    def advance(weight: float) -> None:
        nonlocal done
        done += weight
        report(done / total)

    first = next((item.planned for item in planned if item.planned.apply), None)
    hint = first.decode if first is not None else None
    with phase("decode"):
        pixels = decode(
            source,
            at_least=hint.at_least if hint else None,
            gray=hint.gray if hint else False,
        )
    advance(1.0)
    for item in planned:
        if item.planned.apply is not None:
            with phase(item.step.type):
                pixels = item.planned.apply(pixels)
        advance(item.step.progress_weight)
    metadata = Metadata()
    if output.keep_metadata:
        exif = exif_for_output(source.exif, size_of(pixels)) if source.exif else None
        metadata = Metadata(icc=source.icc, exif=exif)
    with phase("encode"):
        encoded = encode(pixels, output.format, quality=output.quality, metadata=metadata)
    report.finish()
    return encoded


def plan_output(source_format: SourceFormat, steps: Sequence[PixelStep]) -> OutputPlan:
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
    size: Size, steps: Sequence[PixelStep], output_format: OutputFormat, max_pixels: int
) -> list[PlannedStep]:
    """The size after each step; refuses a plan whose images would exceed the limits."""
    planned: list[PlannedStep] = []
    for step in steps:
        plan = step.plan(size, output_format)
        if plan.peak is not None:
            _check_size(plan.peak, max_pixels)
        size = plan.size
        _check_size(size, max_pixels)
        planned.append(PlannedStep(step, plan))
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
