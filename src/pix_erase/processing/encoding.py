"""From pixels to the bytes of an output format, carrying the ICC profile and EXIF.

Engines (measured on this machine, see docs/performance.md): cv2 writes JPEG,
PNG and WebP (OpenCV 5's ``imencodeWithMetadata`` stores EXIF and ICC in all three, so
keeping metadata costs nothing); Pillow writes AVIF (faster than cv2 at ``speed=10``), PNG
with gray + alpha (cv2 has no 2-channel PNG), JPEGs whose ICC profile needs more than one
APP2 segment, and is the fallback when libpng rejects a damaged ICC profile; pillow-heif
writes HEIC. Each format gets pixels in a layout it can hold: JPEG has no alpha (composited
over white), WebP has no gray.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .errors import ImageError
from .formats import CONTENT_TYPES, OutputFormat, heic_encoder_available, heif_module
from .pixels import Pixels, channels, flatten, is_gray, size_of, to_colour, to_pillow

_EXIF_PREFIX: Final = b"Exif\x00\x00"
# A JPEG marker segment holds 65533 bytes; APP2 spends 14 of them on "ICC_PROFILE\0" and
# the chunk numbers. cv2 writes a single segment, Pillow splits longer profiles.
_MAX_JPEG_EXIF: Final = 65533
_MAX_CV2_JPEG_ICC: Final = 65533 - 14
# AVIF "speed" 0..10: 10, the fastest setting (docs/performance.md compares the encoders).
_AVIF_SPEED: Final = 10


@dataclass(frozen=True)
class Encoded:
    """An encoded result: the bytes and what they are, as read back from the encoder."""

    data: bytes
    format: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Metadata:
    """What a result inherits from its source; ``exif`` is "Exif\\0\\0" + TIFF bytes."""

    icc: bytes | None = None
    exif: bytes | None = None


def encode(pixels: Pixels, fmt: OutputFormat, *, quality: int, metadata: Metadata) -> Encoded:
    """Encode ``pixels`` (any layout) as ``fmt``; metadata that cannot apply is dropped."""
    pixels = fit_layout(pixels, fmt)
    icc = metadata.icc if metadata.icc and icc_matches(metadata.icc, pixels) else None
    writers: dict[OutputFormat, Callable[[Pixels, int, bytes | None, bytes | None], bytes]] = {
        "jpeg": _jpeg,
        "png": _png,
        "webp": _webp,
        "avif": _avif,
        "heic": _heic,
    }
    data = writers[fmt](pixels, quality, icc, metadata.exif)
    width, height = size_of(pixels)
    return Encoded(data, fmt, CONTENT_TYPES[fmt], width, height)


def fit_layout(pixels: Pixels, fmt: OutputFormat) -> Pixels:
    """Pixels in a channel layout the format can store."""
    if fmt == "jpeg":
        return flatten(pixels)
    if fmt == "webp" or (fmt in ("avif", "heic") and channels(pixels) == 2):
        return to_colour(pixels)
    return pixels


def icc_matches(icc: bytes, pixels: Pixels) -> bool:
    """Whether the profile's colour space (header bytes 16..20) fits gray or colour pixels."""
    space = icc[16:20]
    return space == (b"GRAY" if is_gray(pixels) else b"RGB ")


def _jpeg(pixels: Pixels, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    if exif is not None and len(exif) > _MAX_JPEG_EXIF:
        exif = None  # cannot fit the one APP1 segment EXIF is allowed; drop rather than fail
    if icc is not None and len(icc) > _MAX_CV2_JPEG_ICC:
        return _pillow(pixels, "JPEG", quality=quality, icc_profile=icc, exif=exif)
    return _cv2(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality], icc, exif)


def _png(pixels: Pixels, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    del quality  # lossless
    if channels(pixels) == 2:
        return _pillow(pixels, "PNG", icc_profile=icc, exif=exif)
    try:
        return _cv2(".png", pixels, [], icc, exif)
    except cv2.error:
        # libpng refuses ICC profiles it considers broken; Pillow stores them as they are.
        return _pillow(pixels, "PNG", icc_profile=icc, exif=exif)


def _webp(pixels: Pixels, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    return _cv2(".webp", pixels, [cv2.IMWRITE_WEBP_QUALITY, quality], icc, exif)


def _avif(pixels: Pixels, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    return _pillow(pixels, "AVIF", quality=quality, speed=_AVIF_SPEED, icc_profile=icc, exif=exif)


def _heic(pixels: Pixels, quality: int, icc: bytes | None, exif: bytes | None) -> bytes:
    heif_module()  # registers the HEIF writer with Pillow, or raises heic_unavailable
    if not heic_encoder_available():
        raise ImageError("heic_unavailable", "This server's pillow-heif cannot write HEIC.")
    return _pillow(pixels, "HEIF", quality=quality, icc_profile=icc, exif=exif)


def _cv2(
    ext: str, pixels: Pixels, params: list[int], icc: bytes | None, exif: bytes | None
) -> bytes:
    kinds: list[int] = []
    blobs: list[NDArray[np.uint8]] = []
    if exif:
        # cv2 wants the bare TIFF structure and adds the "Exif\0\0" header where needed.
        kinds.append(cv2.IMAGE_METADATA_EXIF)
        blobs.append(np.frombuffer(exif.removeprefix(_EXIF_PREFIX), dtype=np.uint8))
    if icc:
        kinds.append(cv2.IMAGE_METADATA_ICCP)
        blobs.append(np.frombuffer(icc, dtype=np.uint8))
    if kinds:
        ok, buffer = cv2.imencodeWithMetadata(ext, pixels, kinds, blobs, params)
    else:
        ok, buffer = cv2.imencode(ext, pixels, params)
    if not ok:
        raise cv2.error(f"cv2 could not encode {ext}")
    return bytes(buffer.tobytes())


def _pillow(pixels: Pixels, fmt: str, **params: object) -> bytes:
    options = {key: value for key, value in params.items() if value is not None}
    buffer = io.BytesIO()
    to_pillow(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()
