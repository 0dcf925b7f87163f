"""Facts about an image file without processing it: upload checks, header probes, EXIF.

``inspect_image`` is the gate every upload passes. Its order matters: the format comes
from the content, the pixel limit is checked on the header before any pixel buffer
exists (a 200-byte PNG can declare 50000x50000), frames are counted only up to the
limit, and only then is the file checked whole, which is what catches a file cut short.
Other formats decode their first frame for that. A JPEG is not decoded: its segments are
walked and its compressed scans skipped to the end-of-image marker (`_jpeg_is_whole`),
which finds every cut a decode finds at a small part of the cost (the file is mapped,
not read into memory); the pixels are decoded once, by the first job that needs them.
No library checks a JPEG's structure without decoding it, hence the short walk here.
"""

from __future__ import annotations

import io
import mmap
import os
import re
from dataclasses import dataclass, replace
from typing import IO

from PIL import ImageFile

from .decoding import check_pixels, decoder_errors, displayed_size, open_header
from .errors import ImageError
from .exif import JSONValue, exif_to_json, read_exif_from
from .formats import CONTENT_TYPES, SourceFormat


@dataclass(frozen=True)
class ImageInfo:
    """What an image file is; width and height as displayed (after EXIF orientation)."""

    format: str
    content_type: str
    width: int
    height: int
    frames: int


def inspect_image(path: str | os.PathLike[str], *, max_pixels: int, max_frames: int) -> ImageInfo:
    """Accept or refuse an uploaded file; see the module docstring for the checks.

    Raises ImageError: unsupported_format, heic_unavailable, too_many_pixels,
    too_many_frames, corrupt_image.
    """
    with open(path, "rb") as fp:
        fmt, image = open_header(fp)
        with image:
            check_pixels(image.size, max_pixels)
            info = _info(fmt, image)
            with decoder_errors():
                frames = _count_frames(fmt, image, max_frames)
                if frames > max_frames:
                    raise ImageError(
                        "too_many_frames",
                        f"The image has more than {max_frames} frames; that is the limit.",
                    )
                if fmt == "jpeg":
                    # Mapped, not read: a read allocates (and the kernel zeroes) fresh
                    # pages for every upload, which cost more than the walk itself.
                    with mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ) as data:
                        whole = _jpeg_is_whole(data)
                    if not whole:
                        raise ImageError("corrupt_image", "The JPEG file is cut short or damaged.")
                else:
                    image.seek(0)
                    image.load()
    return replace(info, frames=frames)


# After a scan's compressed data: the next marker. 0xFF 0x00 is a stuffed data byte and
# 0xFF may repeat as fill; restart markers (0xD0-0xD7) sit inside a scan.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xff]")  # one 0xFF: 20x faster than `\xff+`
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_is_whole(data: bytes | mmap.mmap) -> bool:
    """True when `data` (from SOI) is a complete JPEG: every segment fits and the
    end-of-image marker is reached; bytes after it (camera trailers) are allowed."""
    position, size = 2, len(data)
    while position + 2 <= size:
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif marker == 0xD9:  # EOI
            return True
        elif marker in _STANDALONE:
            position += 2
        else:
            length = int.from_bytes(data[position + 2 : position + 4], "big")
            end = position + 2 + length
            if length < 2 or end > size:
                return False
            position = end
            if marker == 0xDA:  # SOS: compressed data runs to the next marker
                found = _NEXT_MARKER.search(data, end)
                while found is not None and 0xD0 <= data[found.start() + 1] <= 0xD7:
                    found = _NEXT_MARKER.search(data, found.end())
                if found is None:
                    return False
                position = found.start()
    return False


def probe_encoded(data: bytes) -> ImageInfo:
    """Format, displayed size and frame count from the header alone (no limits, no decode)."""
    fmt, image = open_header(io.BytesIO(data))
    with image, decoder_errors():
        info = _info(fmt, image)
        frames = int(getattr(image, "n_frames", 1))
    return replace(info, frames=frames)


def read_exif(data: bytes) -> dict[str, JSONValue]:
    """EXIF tags by name (base IFD, Exif and GPS sub-IFDs), JSON-safe; {} when none.

    Reads the header only, so EXIF that a PNG stores after its pixel data (the PNG spec
    places it before) is not seen.
    """
    _, image = open_header(io.BytesIO(data))
    with image:
        exif = read_exif_from(image)
    return exif_to_json(exif) if exif is not None else {}


def _info(fmt: SourceFormat, image: ImageFile.ImageFile) -> ImageInfo:
    exif = read_exif_from(image)
    width, height = displayed_size(fmt, image, exif)
    return ImageInfo(fmt, CONTENT_TYPES[fmt], width, height, 1)


def _count_frames(fmt: SourceFormat, image: ImageFile.ImageFile, limit: int) -> int:
    """The number of frames, or ``limit + 1`` once it is known to exceed ``limit``."""
    if fmt == "gif":
        assert image.fp is not None
        return _count_gif_frames(image.fp, limit)
    if fmt != "tiff":
        return int(getattr(image, "n_frames", 1))
    # Pillow counts TIFF pages by walking them all; stop at the limit instead. (One page
    # at a time: after a failed seek far past the end the plugin miscounts.)
    for frame in range(1, limit + 1):
        try:
            image.seek(frame)
        except EOFError:
            return frame
    return limit + 1


def _count_gif_frames(fp: IO[bytes], limit: int) -> int:
    """Count GIF image descriptors, stopping past ``limit``.

    Pillow's own count either walks every frame (a 50 MB GIF can hold a million tiny
    frames) or, through ``seek``, allocates a disposal buffer per frame; reading the
    block structure directly costs neither. Unknown bytes between blocks are skipped,
    as Pillow does.
    """
    fp.seek(10)
    flags = fp.read(3)[:1]
    if flags and flags[0] & 0x80:
        fp.seek(3 << ((flags[0] & 7) + 1), os.SEEK_CUR)  # global colour table
    frames = 0
    while frames <= limit:
        introducer = fp.read(1)
        if introducer in (b"", b";"):
            break
        if introducer == b"!":
            fp.read(1)  # extension label
            _skip_sub_blocks(fp)
        elif introducer == b",":
            frames += 1
            descriptor = fp.read(9)
            if len(descriptor) == 9 and descriptor[8] & 0x80:
                fp.seek(3 << ((descriptor[8] & 7) + 1), os.SEEK_CUR)  # local colour table
            fp.read(1)  # LZW minimum code size
            _skip_sub_blocks(fp)
    return frames


def _skip_sub_blocks(fp: IO[bytes]) -> None:
    while (size := fp.read(1)) not in (b"", b"\x00"):
        fp.seek(size[0], os.SEEK_CUR)
