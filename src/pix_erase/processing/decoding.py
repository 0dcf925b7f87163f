"""From bytes to displayed pixels: sniff, read the header, check limits, decode.

Every path returns pixels turned the way the image is displayed (EXIF orientation applied
exactly once). cv2 decodes JPEG and plain PNG, because it is the fastest decoder into a
numpy array and can shrink JPEGs on load; it is always called with
``IMREAD_IGNORE_ORIENTATION`` so that orientation is applied here, the same way for every
decoder. Pillow decodes everything else. Two decoders turn pixels themselves: Pillow's
TIFF plugin (its header already reports the displayed size) and pillow-heif (it applies
the HEIF transforms and resets the EXIF orientation to 1); for those nothing is left to do.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Final, cast

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile

from .errors import ImageError
from .exif import ORIENTATION, read_exif_from
from .formats import SNIFF_BYTES, SourceFormat, header_opener, sniff
from .pixels import (
    Pixels,
    apply_orientation,
    as_pixels,
    from_pillow,
    oriented_size,
    sixteen_to_eight,
)

# What decoders raise on damaged data (cv2.error and RuntimeError come from cv2 and libheif).
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    RuntimeError,
    struct.error,
    zlib.error,
    cv2.error,
)
_SELF_ORIENTING: Final = frozenset({"tiff", "heic"})
_CV2_PNG_MODES: Final = frozenset({"L", "LA", "RGB", "RGBA", "P", "I;16", "I;16B", "I;16L"})
_REDUCED_COLOUR: Final[dict[int, int]] = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
_REDUCED_GRAY: Final[dict[int, int]] = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


@contextmanager
def decoder_errors() -> Iterator[None]:
    """Turn decoder failures into ImageError (corrupt_image, too_many_pixels)."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # A few Pillow plugins still apply Pillow's own fixed limit (GIF frames, TIFF at
        # load, WebP at open); when a warning filter turns its warning into an exception,
        # that lands here too.
        raise ImageError("too_many_pixels", "A frame of the image is too large.") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(
            "corrupt_image", "The image is truncated or damaged and cannot be decoded."
        ) from exc


def open_header(fp: IO[bytes]) -> tuple[SourceFormat, ImageFile.ImageFile]:
    """Recognise the format from the content and read the header (no pixels decoded)."""
    head = fp.read(SNIFF_BYTES)
    fp.seek(0)
    fmt = sniff(head)
    if fmt is None:
        raise ImageError(
            "unsupported_format",
            "The file is not an image in a supported format "
            "(JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC).",
        )
    opener = header_opener(fmt)
    with decoder_errors():
        image = opener(fp)
    return fmt, image


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    if size[0] * size[1] > max_pixels:
        raise ImageError(
            "too_many_pixels",
            f"The image is {size[0]}x{size[1]} pixels; the limit is {max_pixels:,} pixels.",
        )


@dataclass
class Source:
    """An opened image whose pixels are not decoded yet, with what results inherit."""

    format: SourceFormat
    image: ImageFile.ImageFile
    data: bytes
    size: tuple[int, int]  # as displayed
    orientation: int  # still to apply after decoding; 1 when the decoder does it
    icc: bytes | None
    exif: Image.Exif | None


def open_source(data: bytes, *, max_pixels: int) -> Source:
    """Open ``data`` and refuse it before decoding if it has more than ``max_pixels``."""
    fmt, image = open_header(io.BytesIO(data))
    check_pixels(image.size, max_pixels)
    exif = read_exif_from(image)
    icc = image.info.get("icc_profile")
    return Source(
        format=fmt,
        image=image,
        data=data,
        size=displayed_size(fmt, image, exif),
        orientation=orientation_to_apply(fmt, exif),
        icc=icc if isinstance(icc, bytes) and icc else None,
        exif=exif,
    )


def displayed_size(
    fmt: SourceFormat, image: ImageFile.ImageFile, exif: Image.Exif | None
) -> tuple[int, int]:
    """The header size as the image is displayed, i.e. after EXIF orientation."""
    return oriented_size(image.size, orientation_to_apply(fmt, exif))


def orientation_to_apply(fmt: SourceFormat, exif: Image.Exif | None) -> int:
    """The EXIF orientation (1..8) still to apply after decoding; 1 if none or done."""
    if exif is None or fmt in _SELF_ORIENTING:
        return 1
    value = exif.get(ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def reduction_factor(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest JPEG DCT scale (1, 2, 4, 8) that still decodes at least ``target``."""
    for factor in (8, 4, 2):
        if all(math.ceil(s / factor) >= t for s, t in zip(size, target, strict=True)):
            return factor
    return 1


def decode(
    source: Source, *, at_least: tuple[int, int] | None = None, gray: bool = False
) -> Pixels:
    """Decode the first frame, oriented as displayed.

    With ``at_least`` (displayed width, height) a JPEG may be decoded at 1/2, 1/4 or 1/8
    scale, never smaller than that size, so the resize that follows reads 4-64x fewer pixels.
    With ``gray`` (the first step makes the image gray anyway) a colour JPEG may be decoded
    as its luma plane only, which skips most of the decoder's colour work; other sources
    decode as usual.
    """
    factor = 1
    if source.format == "jpeg" and at_least is not None:
        factor = reduction_factor(source.size, at_least)
    with decoder_errors():
        pixels = _decode_cv2(source, factor, gray)
        if pixels is None:
            pixels = _decode_pillow(source, factor)
    return apply_orientation(pixels, source.orientation)


def _decode_cv2(source: Source, factor: int, want_gray: bool) -> Pixels | None:
    image = source.image
    if source.format == "jpeg" and image.mode in ("L", "RGB"):
        gray = image.mode == "L" or want_gray
        if factor > 1:
            flag = (_REDUCED_GRAY if gray else _REDUCED_COLOUR)[factor]
        else:
            flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
    elif (
        source.format == "png"
        and image.mode in _CV2_PNG_MODES
        and "transparency" not in image.info  # cv2 ignores tRNS on gray PNGs
        and getattr(image, "n_frames", 1) == 1  # APNG: leave frame choice to Pillow
    ):
        flag = cv2.IMREAD_UNCHANGED
    else:
        return None
    buffer = np.frombuffer(source.data, dtype=np.uint8)
    decoded = cv2.imdecode(buffer, flag | cv2.IMREAD_IGNORE_ORIENTATION)
    if decoded is None:
        raise ValueError("cv2 could not decode the image")
    if decoded.dtype == np.uint16:
        pixels = sixteen_to_eight(cast(NDArray[np.uint16], decoded))
    else:
        pixels = as_pixels(decoded)
    if image.mode == "LA" and pixels.ndim == 3 and pixels.shape[2] == 4:
        # libpng expands gray + alpha to BGRA; keep the gray + alpha layout.
        pixels = np.ascontiguousarray(pixels[:, :, [0, 3]])
    return pixels


def _decode_pillow(source: Source, factor: int) -> Pixels:
    image = source.image
    if factor > 1:
        width, height = image.size
        image.draft(image.mode, (max(1, width // factor), max(1, height // factor)))
    image.load()
    return from_pillow(image)
