"""What the erase-family jobs share: decode for editing, encode like the source, the mask
as a PNG."""

from __future__ import annotations

import cv2
import numpy as np

from .decoding import Source, decode, open_source
from .encoding import Encoded, Metadata, encode
from .exif import exif_for_output
from .formats import OutputFormat
from .phases import phase
from .pipeline import plan_output
from .pixels import Pixels, as_pixels, channels, flatten, size_of, to_colour


def open_and_decode(data: bytes, max_pixels: int) -> tuple[Source, Pixels]:
    """The source (format, metadata) and its pixels as displayed."""
    source = open_source(data, max_pixels=max_pixels)
    with phase("decode"):
        pixels = decode(source)
    return source, pixels


def encode_like_source(source: Source, pixels: Pixels, fmt: OutputFormat | None = None) -> Encoded:
    """Encode a same-size edit the way run_steps encodes a job with no Convert step:
    the source's format (GIF/TIFF/BMP become PNG) unless ``fmt`` names one, quality 90,
    ICC profile and EXIF (orientation reset) kept."""
    output = plan_output(source.format, [])
    exif = exif_for_output(source.exif, size_of(pixels)) if source.exif else None
    metadata = Metadata(icc=source.icc, exif=exif)
    with phase("encode"):
        return encode(pixels, fmt or output.format, quality=output.quality, metadata=metadata)


def encode_mask(mask: Pixels) -> Encoded:
    """A mask as a grayscale PNG: 255 = erased, 0 = kept (what ``erase`` accepts back)."""
    binary = np.where(mask > 0, np.uint8(255), np.uint8(0))
    with phase("encode"):
        return encode(binary, "png", quality=100, metadata=Metadata())


def visible_bgr(pixels: Pixels) -> Pixels:
    """BGR as the user sees it: gray expanded, alpha composited over white."""
    bgr = flatten(to_colour(pixels))
    return bgr if channels(bgr) == 3 else as_pixels(cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR))


def scaled(pixels: Pixels, scale: float) -> Pixels:
    """A copy reduced by ``scale`` (< 1) with area averaging; ``pixels`` when >= 1."""
    if scale >= 1.0:
        return pixels
    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return as_pixels(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))
