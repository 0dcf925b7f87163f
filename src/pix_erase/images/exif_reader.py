"""An image's EXIF read from storage without reading the image (GET .../exif).

Only the first `EXIF_HEAD_BYTES` of the object are fetched and parsed (in the process
pool): that holds the EXIF of a JPEG (APP1, right after the start), of a PNG that keeps
its eXIf chunk before the pixels as the spec says, and of TIFF, AVIF and HEIC files that
put their metadata first. A WebP keeps EXIF after its pixel data, so its RIFF chunk
headers are walked with small range reads to fetch the EXIF chunk alone. EXIF a file
keeps beyond the head is not read: the answer is `{}`, never a read of the whole object
(a 40 MB text chunk before the pixels would otherwise be loaded for every request).
"""

from typing import Any

from pix_erase.container import Services
from pix_erase.images.models import Image
from pix_erase.platform.storage import Storage
from pix_erase.processing import ImageError, read_exif
from pix_erase.processing.exif import exif_bytes_to_json

EXIF_HEAD_BYTES = 256 * 1024
# EXIF in JPEG is at most 64 KB; a WebP chunk claiming more than this is not read.
MAX_EXIF_BYTES = 1024 * 1024
_MAX_RIFF_CHUNKS = 64


async def read_stored_exif(services: Services, image: Image) -> dict[str, Any]:
    key = image.storage_key
    head = await services.storage.get_range(key, 0, EXIF_HEAD_BYTES)
    if image.format == "webp":
        raw = await webp_exif(services.storage, key, head)
        return {} if raw is None else await services.quick_pool.run(exif_bytes_to_json, raw)
    try:
        return await services.quick_pool.run(read_exif, head)
    except ImageError:
        return {}  # the header runs past the head (e.g. a huge text chunk first)


async def webp_exif(storage: Storage, key: str, head: bytes) -> bytes | None:
    """The EXIF chunk of a WebP, found by its RIFF chunk headers (8 bytes each)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    end = int.from_bytes(head[4:8], "little") + 8
    offset = 12
    for _ in range(_MAX_RIFF_CHUNKS):
        if offset + 8 > end:
            return None
        header = await _read(storage, key, head, offset, 8)
        if len(header) < 8:
            return None
        size = int.from_bytes(header[4:8], "little")
        if header[:4] == b"EXIF":
            if size > MAX_EXIF_BYTES:
                return None
            return await _read(storage, key, head, offset + 8, size)
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return None


async def _read(storage: Storage, key: str, head: bytes, start: int, length: int) -> bytes:
    if start + length <= len(head):
        return head[start : start + length]
    return await storage.get_range(key, start, length)
