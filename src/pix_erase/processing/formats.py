"""The formats table: what we read and write, how we recognise it, and the output rule.

Formats are recognised from their first bytes only (a file name or a client's content
type is never trusted). Each accepted format maps to the Pillow plugin class that reads
its header; calling the class directly, rather than ``Image.open``, skips Pillow's global
decompression-bomb check so that our own, configurable ``max_pixels`` is the one that
decides (Pillow's fixed limit would warn at 89 MP and refuse at 179 MP whatever the
operator configured).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import IO, Final, Literal, cast

from PIL import (
    AvifImagePlugin,
    BmpImagePlugin,
    GifImagePlugin,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
    features,
)

from .errors import ImageError

SourceFormat = Literal["jpeg", "png", "webp", "gif", "tiff", "bmp", "avif", "heic"]
OutputFormat = Literal["jpeg", "png", "webp", "avif", "heic"]

CONTENT_TYPES: Final[dict[str, str]] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "avif": "image/avif",
    "heic": "image/heic",
}

# Output formats that can store an alpha channel.
ALPHA_FORMATS: Final = frozenset({"png", "webp", "avif", "heic"})

# Formats we can write; GIF, TIFF and BMP sources are written as PNG (see output_format_for).
_OUTPUT_FOR_SOURCE: Final[dict[SourceFormat, OutputFormat]] = {
    "jpeg": "jpeg",
    "png": "png",
    "webp": "webp",
    "avif": "avif",
    "heic": "heic",
    "gif": "png",
    "tiff": "png",
    "bmp": "png",
}

# Largest width or height each output format can store and read back: JPEG's 16-bit
# header, libwebp's 14-bit sizes, and libavif's default decode limit (HEIC kept the same).
MAX_SIDE: Final[dict[OutputFormat, int]] = {
    "jpeg": 65_500,
    "png": 2**31 - 1,
    "webp": 16_383,
    "avif": 32_768,
    "heic": 32_768,
}

_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
# The brands pillow-heif itself accepts; mif1/msf1 are generic HEIF (checked after AVIF).
_HEIC_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
# Sizes of the BMP info headers Pillow reads; "BM" alone would also match plain text.
_BMP_HEADER_SIZES: Final = frozenset({12, 40, 52, 56, 64, 108, 124})

SNIFF_BYTES: Final = 64

HeaderOpener = Callable[[IO[bytes]], ImageFile.ImageFile]


def sniff(head: bytes) -> SourceFormat | None:
    """The format of an image from its first ``SNIFF_BYTES`` bytes, or None if not ours."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if head[4:8] == b"ftyp":
        return _sniff_isobmff(head)
    return None


def _sniff_isobmff(head: bytes) -> SourceFormat | None:
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    # The major brand, then (after the minor version) the compatible brands.
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIC_BRANDS:
        return "heic"
    return None


def output_format_for(source: SourceFormat) -> OutputFormat:
    """The format a result is written in when no Convert step names one.

    JPEG, PNG, WebP, AVIF and HEIC keep their format. GIF, TIFF and BMP become PNG: the
    result is a single still image (GIF animation is not kept), PNG is lossless like those
    sources, holds their alpha, and every browser shows it. A HEIC source becomes JPEG
    when the HEIC encoder is not available.
    """
    out = _OUTPUT_FOR_SOURCE[source]
    if out == "heic" and not heic_encoder_available():
        return "jpeg"
    return out


def header_opener(fmt: SourceFormat) -> HeaderOpener:
    """The Pillow class that reads this format's header lazily (no pixels decoded yet)."""
    if fmt == "heic":
        return cast(HeaderOpener, heif_module().HeifImageFile)
    if fmt in ("webp", "avif") and not features.check(fmt):
        raise ImageError("unsupported_format", f"This server's Pillow cannot read {fmt}.")
    openers: dict[SourceFormat, HeaderOpener] = {
        "jpeg": JpegImagePlugin.JpegImageFile,
        "png": PngImagePlugin.PngImageFile,
        "gif": GifImagePlugin.GifImageFile,
        "webp": WebPImagePlugin.WebPImageFile,
        "tiff": TiffImagePlugin.TiffImageFile,
        "bmp": BmpImagePlugin.BmpImageFile,
        "avif": AvifImagePlugin.AvifImageFile,
    }
    return openers[fmt]


@functools.cache
def heif_module() -> ModuleType:
    """pillow-heif with its Pillow plugin registered, or heic_unavailable if not installed."""
    try:
        import pillow_heif
    except ImportError as exc:
        raise ImageError(
            "heic_unavailable", "HEIC support (pillow-heif) is not installed on this server."
        ) from exc
    # Registration is what lets Image.save(format="HEIF") find the encoder.
    pillow_heif.register_heif_opener()
    return pillow_heif


@functools.cache
def heic_encoder_available() -> bool:
    """Whether HEIC files can be written (pillow-heif present and built with an encoder)."""
    try:
        module = heif_module()
    except ImageError:
        return False
    return bool(module.libheif_info().get("HEIF"))
