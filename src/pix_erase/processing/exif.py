"""EXIF: reading it for the API as JSON, and rewriting it for results.

Results keep the source's EXIF (unless stripped) with Orientation reset to 1, because the
pixels are already turned the way the user saw them; the pixel-dimension tags are
updated to the result's size. TIFF sources keep their tags in the same directory as the
image-structure tags (strip offsets, bit depth...), which describe the source file, not
the result, so those are dropped from both the output EXIF and the JSON view.
"""

from __future__ import annotations

import math
import string
import struct
from typing import Final, TypeAlias

from PIL import ExifTags, Image, TiffImagePlugin

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

ORIENTATION: Final = int(ExifTags.Base.Orientation)
_EXIF_IFD: Final = int(ExifTags.IFD.Exif)
_GPS_IFD: Final = int(ExifTags.IFD.GPSInfo)
_POINTERS: Final = frozenset({_EXIF_IFD, _GPS_IFD, int(ExifTags.IFD.Interop)})
_PIXEL_X: Final = int(ExifTags.Base.ExifImageWidth)
_PIXEL_Y: Final = int(ExifTags.Base.ExifImageHeight)

# TIFF image-structure tags: true of the file they came from, never of a new image.
_STRUCTURE_TAGS: Final = frozenset(
    {
        254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 284, 317, 320,
        322, 323, 324, 325, 338, 339, 340, 341, 347, 513, 514, 530, 531, 532, 700, 33723,
        34377, 34675,
    }
)  # fmt: skip

# The 8-byte character-code header of UserComment-style fields (EXIF 2.3, 4.6.5).
_CHARSET_PREFIXES: Final = (b"ASCII\x00\x00\x00", b"UNICODE\x00", b"JIS\x00\x00\x00\x00\x00")
_MAX_HEX_BYTES: Final = 512
_PRINTABLE: Final = frozenset(string.printable)

# Errors Pillow raises on malformed EXIF; unreadable EXIF is treated as absent.
EXIF_ERRORS: Final = (SyntaxError, ValueError, OSError, struct.error, TypeError, KeyError)


def exif_to_json(exif: Image.Exif) -> dict[str, JSONValue]:
    """Tags by name from the base IFD and the Exif and GPS sub-IFDs, values JSON-safe."""
    result: dict[str, JSONValue] = {}
    try:
        _add_tags(result, dict(exif), ExifTags.TAGS)
        _add_tags(result, dict(exif.get_ifd(_EXIF_IFD)), ExifTags.TAGS)
        _add_tags(result, dict(exif.get_ifd(_GPS_IFD)), ExifTags.GPSTAGS)
    except EXIF_ERRORS:
        return {}
    return result


def _add_tags(result: dict[str, JSONValue], tags: dict[int, object], names: dict[int, str]) -> None:
    for tag, value in tags.items():
        if tag in _POINTERS or tag in _STRUCTURE_TAGS:
            continue
        result[names.get(tag, f"Tag0x{tag:04X}")] = json_value(value)


def json_value(value: object) -> JSONValue:
    """A JSON-safe form: rationals -> float, bytes -> text or hex, tuples -> lists."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, TiffImagePlugin.IFDRational | float):
        number = float(value)
        return number if math.isfinite(number) else None  # 0/0 rationals are NaN
    if isinstance(value, str):
        return value.rstrip("\x00").strip()
    if isinstance(value, bytes):
        return _bytes_value(value)
    if isinstance(value, tuple | list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return str(value)


def _bytes_value(raw: bytes) -> str:
    for prefix in _CHARSET_PREFIXES:
        if raw.startswith(prefix):
            encoding = "utf-16" if prefix.startswith(b"UNICODE") else "utf-8"
            try:
                return raw[len(prefix) :].decode(encoding).rstrip("\x00").strip()
            except UnicodeDecodeError:
                break
    try:
        text = raw.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch in _PRINTABLE or ch.isprintable() for ch in text):
        return text.strip()
    if len(raw) > _MAX_HEX_BYTES:
        # Maker notes run to tens of kilobytes of vendor binary; hex of it helps no one.
        return f"<{len(raw)} bytes of binary data>"
    return raw.hex()


def exif_for_output(source: Image.Exif, size: tuple[int, int]) -> bytes | None:
    """Serialised EXIF ("Exif\\0\\0" + TIFF) for a result of ``size``, or None if empty."""
    try:
        exif = Image.Exif()
        exif.load(source.tobytes())
        for tag in _STRUCTURE_TAGS & set(exif):
            del exif[tag]
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        sub_ifd = exif.get_ifd(_EXIF_IFD)
        if _PIXEL_X in sub_ifd:
            sub_ifd[_PIXEL_X] = size[0]
        if _PIXEL_Y in sub_ifd:
            sub_ifd[_PIXEL_Y] = size[1]
        if not exif:
            return None
        return exif.tobytes()
    except EXIF_ERRORS:
        # Metadata we cannot re-serialise is dropped rather than failing the whole job.
        return None


def read_exif_from(image: Image.Image) -> Image.Exif | None:
    """The EXIF of an opened (not yet decoded) image without making Pillow decode pixels.

    Uses the EXIF block the plugin found in the header. Pillow's PNG ``getexif`` decodes
    the whole image when the header has none, so only TIFF (whose tags are the header)
    is asked directly.
    """
    raw = image.info.get("exif")
    try:
        if isinstance(raw, bytes) and raw:
            exif = Image.Exif()
            exif.load(raw)
            return exif
        if isinstance(image, TiffImagePlugin.TiffImageFile):
            return image.getexif()
    except EXIF_ERRORS:
        return None
    return None


def exif_bytes_to_json(raw: bytes) -> dict[str, JSONValue]:
    """EXIF to JSON from a raw EXIF block ("Exif\\0\\0" + TIFF, or TIFF alone); {} if unreadable."""
    exif = Image.Exif()
    try:
        exif.load(raw)
    except EXIF_ERRORS:
        return {}
    return exif_to_json(exif)
